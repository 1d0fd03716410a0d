// Accessibility text of the visible interactive elements, numbered in document order.
// Installed into every page by stepgym's browser core; returns {text, items}.
(() => {
  const SELECTOR = [
    "a[href]", "button", "input", "select", "textarea", "summary", "[contenteditable=true]",
    "[role=button]", "[role=link]", "[role=menuitem]", "[role=tab]", "[role=checkbox]",
    "[role=switch]", "[role=radio]", "[role=option]", "[role=treeitem]", "[role=gridcell]",
    "[role=listitem]", "[role=row]", "[role=textbox]", "[role=slider]", "[tabindex]", "[data-a11y]",
  ].join(",");
  const TAG_ROLE = { A: "link", BUTTON: "button", SELECT: "combobox", TEXTAREA: "textbox", SUMMARY: "button" };
  const INPUT_ROLE = { checkbox: "checkbox", radio: "radio", range: "slider", button: "button", submit: "button" };
  const clip = (s, n) => { s = (s || "").replace(/\s+/g, " ").trim(); return s.length > n ? s.slice(0, n - 1) + "…" : s; };

  function role(el) {
    const r = el.getAttribute("role");
    if (r) return r;
    if (el.tagName === "INPUT") return INPUT_ROLE[el.type] || "textbox";
    return TAG_ROLE[el.tagName] || (el.isContentEditable ? "textbox" : el.tagName.toLowerCase());
  }
  function name(el) {
    const label = el.getAttribute("aria-label");
    if (label) return label;
    if (el.labels && el.labels.length) return el.labels[0].innerText;
    if (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT")
      return el.getAttribute("placeholder") || el.getAttribute("title") || el.name || "";
    return el.textContent || el.getAttribute("title") || "";  // textContent: innerText would lay out text per element
  }
  function value(el) {
    if (el.tagName === "INPUT" && (el.type === "checkbox" || el.type === "radio")) return el.checked ? "checked" : "unchecked";
    if (el.getAttribute("aria-checked") !== null) return el.getAttribute("aria-checked") === "true" ? "checked" : "unchecked";
    if (el.tagName === "SELECT") return el.options[el.selectedIndex] ? el.options[el.selectedIndex].text : "";
    if ("value" in el && typeof el.value === "string" && el.tagName !== "BUTTON") return el.value;
    return null;
  }
  function visible(el, vw, vh) {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1 || r.right <= 0 || r.bottom <= 0 || r.left >= vw || r.top >= vh) return null;
    if (el.checkVisibility ? !el.checkVisibility({ opacityProperty: true, visibilityProperty: true })
        : (() => { const cs = getComputedStyle(el); return cs.visibility === "hidden" || cs.display === "none" || Number(cs.opacity) === 0; })()) return null;
    const x = Math.min(Math.max(r.left + r.width / 2, 0), vw - 1), y = Math.min(Math.max(r.top + r.height / 2, 0), vh - 1);
    const hit = document.elementFromPoint(x, y);  // hidden behind another window or a dialog?
    if (!hit || !(el === hit || el.contains(hit) || hit.contains(el))) return null;
    return { x: Math.round(x), y: Math.round(y), w: Math.round(r.width), h: Math.round(r.height) };
  }
  window.__stepgymA11y = function () {
    // measure everything first, then write the data-sg-id attributes: writing while measuring
    // would invalidate layout once per element
    const vw = window.innerWidth, vh = window.innerHeight, items = [], lines = [], els = [];
    for (const el of document.querySelectorAll(SELECTOR)) {
      if (el.disabled || el.closest("[aria-hidden=true]")) continue;
      const box = visible(el, vw, vh);
      if (!box) continue;
      const id = items.length + 1;
      const item = { id, role: role(el), name: clip(name(el), 60), value: value(el), ...box,
                     focused: document.activeElement === el };
      items.push(item);
      els.push(el);
      let line = `[${id}] ${item.role} "${item.name}"`;
      if (item.value !== null && item.value !== "") line += ` value="${clip(String(item.value), 60)}"`;
      if (item.focused) line += " focused";
      lines.push(line + ` at (${item.x},${item.y})`);
    }
    for (const el of document.querySelectorAll("[data-sg-id]")) if (!els.includes(el)) el.removeAttribute("data-sg-id");
    els.forEach((el, i) => { if (el.getAttribute("data-sg-id") !== String(i + 1)) el.setAttribute("data-sg-id", String(i + 1)); });
    return { text: lines.join("\n"), items };
  };
})();
