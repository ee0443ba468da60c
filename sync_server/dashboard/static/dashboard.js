/* Small progressive enhancements; every page works without them. No build step. */
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  /* 客户端更新: removing every pilot school is a pause, confirmed as 暂停 is (the server wants confirmed=1). */
  document.querySelectorAll("form[data-confirm-empty]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (!button || button.value !== "remove") { return; }
      var norm = function (text) {
        return text.replace(/\uff0c/g, ",").split(",").map(function (c) {
          return c.trim().toUpperCase();
        }).filter(function (c) { return c; });
      };
      var typed = norm(form.elements.schools.value);
      var left = norm(form.getAttribute("data-pilot")).filter(function (c) {
        return typed.indexOf(c) < 0;
      });
      if (left.length) { return; }
      if (window.confirm(form.getAttribute("data-confirm-empty"))) {
        form.elements.confirmed.value = "1";
      } else {
        event.preventDefault();
      }
    });
  });
})();
