// MathJax settings for the \( ... \) and \[ ... \] spans that pymdownx.arithmatex (generic mode)
// writes. Without MathJax (offline), the pages still show the plain LaTeX source.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
};

function typesetPage() {
  if (window.MathJax && MathJax.typesetPromise) {
    MathJax.typesetClear();
    MathJax.texReset();
    MathJax.typesetPromise();
  }
}

if (typeof document$ !== "undefined") {
  document$.subscribe(typesetPage); // Material's page-load observable (instant navigation)
}
