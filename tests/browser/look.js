// How a page looks to a reader, for test_pages.py: does it scroll sideways, which texts are below
// WCAG AA contrast (4.5:1, or 3:1 for large text) over the backgrounds under them, opacity
// included, and what colours the page and its plots' text have. Disabled controls are exempt.
(() => {
  const rgba = s => {
    const m = s.match(/[\d.]+/g).map(Number);
    return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1];
  };
  const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat(1);
  const luminance = c => {
    const [r, g, b] = c.slice(0, 3).map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (a, b) => {
    const [light, dark] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (light + 0.05) / (dark + 0.05);
  };
  const ancestry = el => {
    const all = [];
    for (let e = el; e; e = e.parentElement) all.unshift(e);
    return all;
  };
  const low = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest("svg, option, noscript, template, :disabled") || !el.getClientRects().length) continue;
    if (![...el.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim())) continue;
    let background = [255, 255, 255, 1], alpha = 1;
    for (const e of ancestry(el)) {
      const style = getComputedStyle(e), fill = rgba(style.backgroundColor);
      alpha *= Number(style.opacity);
      if (fill[3] > 0) background = over(fill, background);
    }
    const style = getComputedStyle(el), color = rgba(style.color);
    const shown = over([color[0], color[1], color[2], color[3] * alpha], background);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const ratio = contrast(shown, background);
    if (ratio < (large ? 3 : 4.5)) {
      const text = el.textContent.trim().slice(0, 30);
      low.push(`${el.tagName.toLowerCase()}.${el.className} "${text}" ${ratio.toFixed(2)}:1`);
    }
  }
  // the outermost elements that stick out of the page on the right (not those scrolling in a box)
  const width = document.documentElement.clientWidth;
  const clipped = el => { for (let e = el.parentElement; e; e = e.parentElement) {
    if (e !== document.body && e !== document.documentElement && getComputedStyle(e).overflowX !== "visible") return true;
  } return false; };
  const right = el => { const box = el.getBoundingClientRect(); return box.left + Math.max(box.width, el.scrollWidth); };
  const wide = [...document.body.querySelectorAll("*")]
    .filter(el => right(el) > width + 1 && !clipped(el) && !(right(el.parentElement) > width + 1))
    .map(el => `${el.tagName.toLowerCase()}.${el.className.baseVal ?? el.className} to ${Math.round(right(el))}px`);
  const body = getComputedStyle(document.body);
  return {
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    wide: wide,
    low: [...new Set(low)],
    page: body.backgroundColor,
    text: body.color,
    plotText: [...new Set([...document.querySelectorAll(".main-svg text")].map(t => getComputedStyle(t).fill))],
  };
})()
