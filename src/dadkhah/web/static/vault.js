// Ask before an action that is recorded and cannot be undone (revealing a witness, deactivating a user).
// Without JavaScript the forms simply submit.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form && form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
