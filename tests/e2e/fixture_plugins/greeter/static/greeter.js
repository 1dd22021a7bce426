"use strict";
// Writes the greeter's own word, in the page's language, into #greeting.
(() => {
  const line = chat.el("div", "", chat.t("greeter.hello"));
  line.id = "greeting";
  document.querySelector("header").after(line);
})();
