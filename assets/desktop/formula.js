// Spreadsheet formulas: numbers, cell refs, + - * / ( ), and SUM/AVERAGE/MIN/MAX/COUNT over ranges.
(function () {
  const COLS = "ABCDEFGH";
  function tokenize(s) {
    const out = []; let i = 0;
    while (i < s.length) {
      const c = s[i];
      if (c === " ") { i++; continue; }
      let m = /^[A-Za-z]+[0-9]+(:[A-Za-z]+[0-9]+)?/.exec(s.slice(i));
      if (m) { out.push({ t: m[1] ? "range" : "ref", v: m[0].toUpperCase() }); i += m[0].length; continue; }
      m = /^[A-Za-z]+/.exec(s.slice(i));
      if (m) { out.push({ t: "fn", v: m[0].toUpperCase() }); i += m[0].length; continue; }
      m = /^[0-9]*\.?[0-9]+/.exec(s.slice(i));
      if (m) { out.push({ t: "num", v: parseFloat(m[0]) }); i += m[0].length; continue; }
      if ("+-*/(),:".includes(c)) { out.push({ t: c }); i++; continue; }
      throw new Error("bad char " + c);
    }
    return out;
  }
  function expand(range) {
    const [a, b] = range.split(":");
    const c1 = COLS.indexOf(a[0]), c2 = COLS.indexOf(b[0]);
    const r1 = parseInt(a.slice(1)), r2 = parseInt(b.slice(1));
    const out = [];
    for (let c = Math.min(c1, c2); c <= Math.max(c1, c2); c++)
      for (let r = Math.min(r1, r2); r <= Math.max(r1, r2); r++) out.push(COLS[c] + r);
    return out;
  }
  const FNS = {
    SUM: (xs) => xs.reduce((a, b) => a + b, 0),
    AVERAGE: (xs) => { if (!xs.length) throw new Error("div0"); return xs.reduce((a, b) => a + b, 0) / xs.length; },
    MIN: (xs) => xs.length ? Math.min(...xs) : 0,
    MAX: (xs) => xs.length ? Math.max(...xs) : 0,
    COUNT: (xs) => xs.length,
  };
  // evaluate(raw, get) -> number | string; get(ref) returns the computed value of another cell
  function evaluate(raw, get) {
    const toks = tokenize(raw.slice(1)); let p = 0;
    const peek = () => toks[p], take = (t) => { if (!toks[p] || toks[p].t !== t) throw new Error("expected " + t); return toks[p++]; };
    const num = (v) => { if (v === "" || v === null || v === undefined) return 0; const n = Number(v); if (isNaN(n)) throw new Error("nan"); return n; };
    function expr() { let v = term(); while (peek() && (peek().t === "+" || peek().t === "-")) { const o = toks[p++].t; const r = term(); v = o === "+" ? v + r : v - r; } return v; }
    function term() { let v = unary(); while (peek() && (peek().t === "*" || peek().t === "/")) { const o = toks[p++].t; const r = unary(); if (o === "/" && r === 0) throw new Error("div0"); v = o === "*" ? v * r : v / r; } return v; }
    function unary() { if (peek() && peek().t === "-") { p++; return -unary(); } if (peek() && peek().t === "+") { p++; return unary(); } return atom(); }
    function atom() {
      const t = toks[p++];
      if (!t) throw new Error("end");
      if (t.t === "num") return t.v;
      if (t.t === "ref") return num(get(t.v));
      if (t.t === "(") { const v = expr(); take(")"); return v; }
      if (t.t === "fn") {
        const f = FNS[t.v]; if (!f) throw new Error("fn " + t.v);
        take("("); const xs = [];
        while (peek() && peek().t !== ")") {
          const a = peek();
          if (a.t === "range") { p++; for (const r of expand(a.v)) { const v = get(r); if (v !== "" && !isNaN(Number(v))) xs.push(Number(v)); } }
          else xs.push(expr());
          if (peek() && peek().t === ",") p++;
        }
        take(")"); return f(xs);
      }
      throw new Error("unexpected " + t.t);
    }
    const v = expr();
    if (p !== toks.length) throw new Error("trailing");
    return Math.round(v * 1e9) / 1e9;
  }
  window.SheetFormula = { evaluate, COLS };
})();
