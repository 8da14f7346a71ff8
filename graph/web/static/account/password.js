// The password page (graph/web/account.py): choose a password with a link's token, or ask
// for a link. The token is read from the fragment and removed from the address bar at once.

const ENDPOINT = "/graphql";

const RESET = `mutation ResetPassword($input: ResetPasswordInput!) {
  resetPassword(input: $input) { user { username } errors { code message field } }
}`;

const REQUEST = `mutation RequestPasswordReset($input: RequestPasswordResetInput!) {
  requestPasswordReset(input: $input) { accepted errors { code message } }
}`;

const $ = (id) => document.getElementById(id);

function say(text, kind = "info") {
  const message = $("message");
  message.textContent = text;
  message.dataset.kind = kind;
}

async function call(query, variables) {
  const response = await fetch(ENDPOINT, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors && body.errors.length) {
    throw new Error(body.errors[0].message);
  }
  return body.data;
}

function tokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token) {
    // Out of the address bar and the history: the page keeps it in memory only.
    history.replaceState(null, "", location.pathname);
  }
  return token;
}

function choose(token) {
  const form = $("choose");
  form.hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const password = $("new-password").value;
    if (password !== $("repeat-password").value) {
      say("The two passwords differ.", "error");
      return;
    }
    form.querySelector("button").disabled = true;
    try {
      const data = await call(RESET, { input: { token, newPassword: password } });
      const result = data.resetPassword;
      if (result.errors.length) {
        say(result.errors[0].message, "error");
        if (result.errors[0].code === "INVALID_TOKEN") {
          form.hidden = true;
          ask();
        }
        return;
      }
      form.hidden = true;
      say(`Your password is set, ${result.user.username}. You can sign in with it now.`, "ok");
    } catch (error) {
      say(`Something went wrong: ${error.message}`, "error");
    } finally {
      form.querySelector("button").disabled = false;
    }
  });
}

function ask() {
  const form = $("request");
  form.hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    form.querySelector("button").disabled = true;
    try {
      const data = await call(REQUEST, { input: { login: $("login").value } });
      const result = data.requestPasswordReset;
      if (result.errors.length) {
        say(result.errors[0].message, "error");
        return;
      }
      form.hidden = true;
      say("If that is one of our accounts, a link is on its way to its e-mail.", "ok");
    } catch (error) {
      say(`Something went wrong: ${error.message}`, "error");
    } finally {
      form.querySelector("button").disabled = false;
    }
  });
}

// A link opened over this page (same document, new fragment): start again with it.
window.addEventListener("hashchange", () => location.reload());

const token = tokenFromFragment();
if (token) {
  choose(token);
} else {
  ask();
}
