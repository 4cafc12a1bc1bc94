// The frame's keyboard behaviour, for every page (loaded from efoy_app.py's head).
// "Skip to content" moves the keyboard's focus into <main> (the link is a router link, which
// would only change the address).
// After a client-side navigation to another page, move the keyboard's focus to that page's
// heading (its h1 in <main>), as a full page load would put a screen reader at the top.
// Only a change of path counts: a filter written into the query string keeps focus where it is.
(function () {
  "use strict";
  var lastPath = window.location.pathname;

  function typing() {
    var el = document.activeElement;
    return el && el.closest && el.closest("main") && el.matches("input, textarea, select");
  }

  function focusHeading(previous) {
    var started = Date.now();
    (function attempt() {
      var heading = document.querySelector("main h1");
      var waited = Date.now() - started;
      if (heading && (heading !== previous || waited > 1500)) {
        if (typing()) return;
        if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
        heading.focus({ preventScroll: true });
        window.scrollTo(0, 0);
        return;
      }
      if (waited < 8000) window.setTimeout(attempt, 50);
    })();
  }

  function changed() {
    var path = window.location.pathname;
    if (path === lastPath) return;
    lastPath = path;
    focusHeading(document.querySelector("main h1"));
  }

  var push = window.history.pushState;
  window.history.pushState = function () {
    var result = push.apply(this, arguments);
    changed();
    return result;
  };
  window.addEventListener("popstate", changed);

  // Escape closes the open phone menu and gives focus back to its Menu button.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var button = document.querySelector('[aria-controls="phone-menu"][aria-expanded="true"]');
    if (!button) return;
    button.click();
    button.focus();
  });

  document.addEventListener(
    "click",
    function (event) {
      var link = event.target.closest && event.target.closest(".efoy-skip-link");
      if (!link) return;
      event.preventDefault();
      event.stopPropagation();
      var main = document.getElementById("content");
      if (main) main.focus();
    },
    true
  );
})();
