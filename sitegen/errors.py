"""The errors a user can see, each with its exit code.

    SitegenError            exit 1
    ├── ConfigError         exit 2  bad sitegen.yaml or flags
    │   └── OutputRefused   exit 2  the output dir is a root, holds one, or is another tool's
    ├── RootNotFound        exit 3  a configured root does not exist
    ├── OutputLocked        exit 4  another build holds the output directory
    │   └── LockLost        exit 4  another build took the lock over while this one ran
    ├── StrictFailure       exit 5  --strict and some run failed to read
    ├── OutputUnwritable    exit 6  the output directory cannot be created or written
    └── WorkerMismatch      exit 7  a Ray worker runs another sitegen or theme than the build

Problems inside a run are never exceptions: they are warnings on the Run.
Only the CLI turns these into one line and an exit code.
"""


class SitegenError(Exception):
    exit_code = 1


class ConfigError(SitegenError):
    exit_code = 2


class OutputRefused(ConfigError):
    pass


class RootNotFound(SitegenError):
    exit_code = 3


class OutputLocked(SitegenError):
    exit_code = 4


class LockLost(OutputLocked):
    pass


class StrictFailure(SitegenError):
    exit_code = 5


class OutputUnwritable(SitegenError):
    exit_code = 6


class WorkerMismatch(SitegenError):
    exit_code = 7
