// The live password strength estimate: after a pause in typing, the new password is sent (with
// the form's CSRF token, same origin only) to /password/strength and the answer is shown in
// #strength-live, which screen readers announce politely. Without script the hint stays as it is
// and the rules are checked when the form is submitted.
document.addEventListener("DOMContentLoaded", function () {
  var input = document.getElementById("new_password");
  var out = document.getElementById("strength-live");
  if (!input || !out || !input.form || !window.fetch) { return; }
  var csrf = input.form.querySelector("input[name=csrf]");
  var timer = null;
  var asked = 0;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var mine = ++asked;
      var body = new URLSearchParams();
      body.set("csrf", csrf ? csrf.value : "");
      body.set("password", input.value);
      fetch("/password/strength", { method: "POST", body: body, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) {
          if (mine !== asked || !answer) { return; }
          out.textContent = answer.strength
            ? "Strength: " + answer.strength + ". " + answer.advice
            : "";
          out.setAttribute("data-strength", answer.strength || "");
        })
        .catch(function () { out.textContent = ""; });
    }, 250);
  });
});
