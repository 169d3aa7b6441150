// The fraud console's keyboard shortcuts and the return to a page after signing in. Progressive: every action
// is a real link or a form button that works without this script; a shortcut only moves the focus or presses
// the button that carries its key (data-key), or focuses the field that carries it (data-focus-key).
(function () {
  "use strict";
  // The 401 page (API Gateway's, served before any console page): sign in, then come back to this page.
  var signin = document.getElementById("signin");
  if (signin) {
    var back = location.pathname + location.search;
    signin.href = signin.getAttribute("href") + "?next=" + encodeURIComponent(back);
    location.replace(signin.href);
    return;
  }
  var typing = function (el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  };
  var links = function () { return Array.prototype.slice.call(document.querySelectorAll("a.case-link")); };
  var move = function (step) {
    var all = links();
    if (!all.length) { return; }
    var at = all.indexOf(document.activeElement);
    var next = all[Math.max(0, Math.min(all.length - 1, at < 0 ? 0 : at + step))];
    next.focus();
    next.closest("tr").scrollIntoView({ block: "nearest" });
  };
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      if (event.key === "Escape" && typing(event.target)) { event.target.blur(); }
      return;
    }
    var key = event.key;
    if (key === "j") { move(1); } else if (key === "k") { move(-1); }
    else if (key === "?") { document.getElementById("shortcuts").classList.toggle("hidden"); }
    else if (key === "/") { var filter = document.getElementById("filter"); if (filter) { filter.focus(); } else { return; } }
    else {
      var field = document.querySelector('[data-focus-key="' + key + '"]');
      var target = field || document.querySelector('[data-key="' + key + '"]');
      if (!target) { return; }
      if (field) { field.focus(); } else { target.click(); }
    }
    event.preventDefault();
  });
  var first = links()[0];
  if (first && document.activeElement === document.body) { first.focus({ preventScroll: true }); }
}());
