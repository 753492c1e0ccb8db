/* Before the first paint (loaded without defer), so a dark page never flashes white. The key
   is shared with the Django admin's theme toggle ("auto" there is "system" here). */
(function () {
  var stored = localStorage.getItem("theme");
  var choice = stored === "light" || stored === "dark" ? stored : "system";
  var dark = choice === "dark" || (choice === "system" && matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
  document.documentElement.dataset.themeChoice = choice;
})();
