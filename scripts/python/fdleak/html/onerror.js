// Any script error shows on the page (and in the DOM a test dumps), instead of a silent
// half-sorted table.
window.onerror = function (message, source, line) {
  var box = document.getElementById("js-errors");
  box.hidden = false;
  box.textContent += "script error: " + message + " (line " + line + ")\n";
  return false;
};
