"""sitegen: turn benchmark and experiment runs into a fast, incremental static report site."""

__version__ = "0.1.0"

__all__ = ["__version__", "build", "load_config"]


def __getattr__(name: str) -> object:
    # the public API, imported on first use so that `import sitegen` stays cheap
    if name == "build":
        from sitegen.pipeline import build

        return build  # the pipeline module is not named `build`: importing it would hide this
    if name == "load_config":
        from sitegen.config import load_config

        return load_config
    raise AttributeError(name)
