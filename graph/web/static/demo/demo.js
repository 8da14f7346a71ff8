// The seat-map demo (docs/demo.md): GraphQL over fetch for queries and mutations, the
// vendored graphql-ws client (global `graphqlWs`) for live seat statuses. No framework.

const CINEMAS = `query { cinemas(first: 50) { edges { node { id name city } } } }`;
const SHOWTIMES = `query ($cinema: ID!) {
  showtimes(filter: {cinemaId: $cinema}, first: 50) {
    edges { node { id startsAt format language movie { title } hall { name } } } } }`;
const SHOWTIME = `query ($id: ID!) {
  showtime(id: $id) {
    id startsAt format movie { title } hall { name layout { rows { label
      seats { id rowLabel number type x y isBlocked } } } }
    seatMap { sequence rows { seats { id status price { amount currency } } } } } }`;
const MY_HOLD = `query ($id: ID!) { myHold(showtimeId: $id) { id expiresAt seats { id } } }`;
const LOGIN = `mutation ($input: LoginInput!) {
  login(input: $input) { accessToken user { username displayName } errors { code message } } }`;
const HOLD = `mutation ($input: HoldSeatsInput!) {
  holdSeats(input: $input) { hold { id expiresAt seats { id } } errors { code message seatIds } } }`;
const RELEASE = `mutation ($input: ReleaseHoldInput!) {
  releaseHold(input: $input) { releasedHoldId errors { code message } } }`;
const CHECKOUT = `mutation ($input: CheckoutInput!) {
  checkout(input: $input) { order { id number } errors { code message } } }`;
const PAY = `mutation ($input: PayOrderInput!) {
  payOrder(input: $input) { order { id number status total { amount currency }
    tickets { id bookingReference price { amount currency } seat { rowLabel number } qrSvg } }
    errors { code message } } }`;
const SEATS_LIVE = `subscription ($id: ID!) {
  seatAvailability(showtimeId: $id) { sequence snapshot seats { seatId status } } }`;

const $ = (id) => document.getElementById(id);
const TYPE_NAMES = { STANDARD: "Standard", PREMIUM: "Premium", VIP: "VIP", ACCESSIBLE: "Accessible" };
const SYMBOLS = { MINE: "✓", HELD: "•", SOLD: "✕", BLOCKED: "–" };
const SPOKEN = {
  AVAILABLE: "available", MINE: "held by you", HELD: "taken (held by someone else)",
  SOLD: "sold", BLOCKED: "not for sale",
};

const state = {
  token: null, user: null, showtimeId: null,
  seats: new Map(), // seat id -> {id, row, number, type, x, y, status, price, button}
  rows: [], // seats row by row (front to back), each row left to right
  mine: new Set(), pending: new Set(), hold: null,
  sequence: null, snapshots: 0, unsubscribe: null, queue: Promise.resolve(), focusId: null,
};

// --- talking to the API -------------------------------------------------------------------

class ApiError extends Error {}

async function gql(query, variables = {}) {
  const headers = { "Content-Type": "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const response = await fetch("/graphql", {
    method: "POST", headers, body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors && body.errors.length) {
    const code = body.errors[0].extensions?.code;
    if (code === "UNAUTHENTICATED") signOut("Your session ended; please sign in again.");
    throw new ApiError(body.errors[0].message);
  }
  return body.data;
}

const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
const live = graphqlWs.createClient({
  url: wsUrl,
  lazyCloseTimeout: 2000,
  retryAttempts: Infinity,
  shouldRetry: () => true,
  retryWait: (retries) => new Promise((r) => setTimeout(r, Math.min(200 * 2 ** retries, 3000))),
  on: {
    connected: () => setLive("live", "Live"),
    closed: () => setLive("reconnecting", "Reconnecting…"),
  },
});

// --- small helpers ------------------------------------------------------------------------

function money(price) {
  if (!price) return "no price";
  return new Intl.NumberFormat("en", { style: "currency", currency: price.currency })
    .format(Number(price.amount));
}

function seatName(seat) { return `${seat.row}${seat.number}`; }

function shown(seat) {
  return seat.status === "HELD" && state.mine.has(seat.id) ? "MINE" : seat.status;
}

function announce(text) {
  // Cleared first so that the same words twice are announced twice.
  $("status").textContent = "";
  setTimeout(() => { $("status").textContent = text; }, 50);
}

function say(text) { $("message").textContent = text; }

function setLive(kind, text) {
  $("live").dataset.state = kind;
  $("live").textContent = text;
}

function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function option(value, text) {
  const el = document.createElement("option");
  el.value = value;
  el.textContent = text;
  return el;
}

// --- choosing a showtime ------------------------------------------------------------------

async function loadCinemas() {
  const data = await gql(CINEMAS);
  const select = $("cinema");
  select.replaceChildren(...data.cinemas.edges.map(({ node }) =>
    option(node.id, `${node.name} · ${node.city}`)));
  if (select.value) await loadShowtimes(select.value);
  else say("No cinemas yet.");
}

async function loadShowtimes(cinemaId) {
  const data = await gql(SHOWTIMES, { cinema: cinemaId });
  const select = $("showtime");
  select.replaceChildren(...data.showtimes.edges.map(({ node }) => {
    const when = new Date(node.startsAt).toLocaleString("en", {
      weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    });
    return option(node.id, `${when} · ${node.movie.title} · ${node.format} · ${node.hall.name}`);
  }));
  if (select.value) await loadShowtime(select.value);
  else say("No showtimes at this cinema.");
}

async function loadShowtime(id) {
  if (state.unsubscribe) state.unsubscribe();
  state.unsubscribe = null;
  Object.assign(state, { showtimeId: id, hold: null, sequence: null, snapshots: 0 });
  state.mine.clear();
  const data = await gql(SHOWTIME, { id });
  const showtime = data.showtime;
  const when = new Date(showtime.startsAt).toLocaleString("en", {
    dateStyle: "medium", timeStyle: "short",
  });
  $("hall-title").textContent =
    `${showtime.movie.title}, ${showtime.format}, ${when}: ${showtime.hall.name}`;
  const current = new Map();
  for (const row of showtime.seatMap.rows) {
    for (const seat of row.seats) current.set(seat.id, seat);
  }
  state.seats.clear();
  state.rows = showtime.hall.layout.rows.map((row) => row.seats.map((s) => {
    const now = current.get(s.id);
    const seat = {
      id: s.id, row: s.rowLabel, number: s.number, type: s.type, x: s.x, y: s.y,
      status: now ? now.status : (s.isBlocked ? "BLOCKED" : "AVAILABLE"),
      price: now ? now.price : null, button: null,
    };
    state.seats.set(seat.id, seat);
    return seat;
  }).sort((a, b) => a.x - b.x)).filter((row) => row.length);
  drawHall();
  state.sequence = showtime.seatMap.sequence;
  if (state.token) await loadMyHold();
  subscribe();
}

async function loadMyHold() {
  const data = await gql(MY_HOLD, { id: state.showtimeId });
  setHold(data.myHold);
}

// --- drawing the hall ---------------------------------------------------------------------

function drawHall() {
  const grid = $("seats");
  const all = [...state.seats.values()];
  const minX = Math.min(...all.map((s) => s.x));
  const minY = Math.min(...all.map((s) => s.y));
  const width = Math.max(...all.map((s) => s.x)) - minX + 1;
  grid.style.setProperty("--columns", String(width));
  grid.replaceChildren(...state.rows.map((seats) => {
    const row = document.createElement("div");
    row.className = "row";
    row.setAttribute("role", "row");
    row.style.gridRow = String(seats[0].y - minY + 1);
    const label = document.createElement("span");
    label.className = "row-label";
    label.setAttribute("role", "rowheader");
    label.textContent = seats[0].row;
    row.append(label);
    for (const seat of seats) {
      const cell = document.createElement("div");
      cell.setAttribute("role", "gridcell");
      cell.style.gridColumn = String(seat.x - minX + 2);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "seat";
      button.dataset.id = seat.id;
      button.dataset.seat = seatName(seat);
      button.dataset.type = seat.type;
      button.tabIndex = -1;
      seat.button = button;
      cell.append(button);
      row.append(cell);
      paint(seat);
    }
    return row;
  }));
  const first = state.rows[0]?.[0];
  if (first) rove(first, false);
}

function paint(seat) {
  const status = shown(seat);
  const b = seat.button;
  b.dataset.status = status;
  b.textContent = SYMBOLS[status] ?? String(seat.number);
  b.setAttribute("aria-pressed", String(status === "MINE"));
  // No aria-disabled: a taken seat stays operable, its click explains why it cannot be had.
  b.setAttribute("aria-label", `Row ${seat.row}, seat ${seat.number}, ` +
    `${TYPE_NAMES[seat.type] ?? seat.type}, ${money(seat.price)}, ${SPOKEN[status]}`);
  b.title = `${seatName(seat)} · ${TYPE_NAMES[seat.type] ?? seat.type} · ${money(seat.price)}`;
}

// Roving tabindex: exactly one seat is in the tab order, the one last moved to.
function rove(seat, focus = true) {
  const old = state.seats.get(state.focusId);
  if (old && old.button) old.button.tabIndex = -1;
  state.focusId = seat.id;
  seat.button.tabIndex = 0;
  if (focus) seat.button.focus();
}

function neighbour(seat, key) {
  const r = state.rows.findIndex((row) => row.includes(seat));
  const row = state.rows[r];
  const i = row.indexOf(seat);
  const nearest = (other) => other.reduce((best, s) =>
    Math.abs(s.x - seat.x) < Math.abs(best.x - seat.x) ? s : best);
  switch (key) {
    case "ArrowLeft": return row[i - 1];
    case "ArrowRight": return row[i + 1];
    case "Home": return row[0];
    case "End": return row[row.length - 1];
    case "ArrowUp": return r > 0 ? nearest(state.rows[r - 1]) : undefined;
    case "ArrowDown": return r < state.rows.length - 1 ? nearest(state.rows[r + 1]) : undefined;
    default: return undefined;
  }
}

$("seats").addEventListener("keydown", (event) => {
  const seat = state.seats.get(event.target.dataset?.id);
  if (!seat || !["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"]
    .includes(event.key)) return;
  event.preventDefault();
  const next = neighbour(seat, event.key);
  if (next) rove(next);
});

$("seats").addEventListener("click", (event) => {
  const button = event.target.closest("button.seat");
  if (!button) return;
  const seat = state.seats.get(button.dataset.id);
  rove(seat);
  state.queue = state.queue.then(() => toggle(seat)).catch((e) => say(e.message));
});

// --- holding seats ------------------------------------------------------------------------

function takenMessage(seats) {
  const names = seats.map(seatName).join(", ");
  return seats.length === 1
    ? `Seat ${names} was just taken by someone else.`
    : `Seats ${names} were just taken by someone else.`;
}

// One hold per showtime and customer: holdSeats with the whole wanted set replaces it.
async function toggle(seat) {
  const status = shown(seat);
  if (status === "HELD") return say(takenMessage([seat]));
  if (status === "SOLD") return say(`Seat ${seatName(seat)} is already sold.`);
  if (status === "BLOCKED") return say(`Seat ${seatName(seat)} is not for sale.`);
  if (!state.token) {
    say("Sign in to hold seats.");
    return $("username").focus();
  }
  const wanted = new Set(state.mine);
  if (status === "MINE") wanted.delete(seat.id); else wanted.add(seat.id);
  say("");
  if (!wanted.size) return release();
  state.pending = new Set([...wanted, seat.id]);
  try {
    const data = await gql(HOLD, {
      input: { showtimeId: state.showtimeId, seatIds: [...wanted] },
    });
    const { hold, errors } = data.holdSeats;
    if (errors.length) return holdFailed(errors[0]);
    setHold(hold);
    announce(status === "MINE" ? `Released seat ${seatName(seat)}.`
      : `Holding seat ${seatName(seat)}. ${state.mine.size} seat(s) held.`);
  } finally {
    state.pending.clear();
  }
}

function holdFailed(error) {
  if (error.code !== "SEAT_UNAVAILABLE" || !error.seatIds) return say(error.message);
  const taken = error.seatIds.map((id) => state.seats.get(id)).filter(Boolean);
  for (const seat of taken) {
    if (seat.status === "AVAILABLE") seat.status = "HELD";
    paint(seat);
  }
  say(takenMessage(taken));
}

async function release() {
  if (!state.hold) return setHold(null);
  const data = await gql(RELEASE, { input: { holdId: state.hold.id } });
  const errors = data.releaseHold.errors;
  if (errors.length && errors[0].code !== "NOT_FOUND") return say(errors[0].message);
  for (const id of state.mine) {
    const seat = state.seats.get(id);
    if (seat && seat.status === "HELD") seat.status = "AVAILABLE";
  }
  setHold(null);
  announce("Your seats were released.");
}

function setHold(hold) {
  const before = [...state.mine];
  state.hold = hold ? { id: hold.id, expiresAt: new Date(hold.expiresAt) } : null;
  state.mine = new Set(hold ? hold.seats.map((s) => s.id) : []);
  for (const id of state.mine) {
    const seat = state.seats.get(id);
    if (seat) seat.status = "HELD";
  }
  for (const id of new Set([...before, ...state.mine])) {
    const seat = state.seats.get(id);
    if (seat) paint(seat);
  }
  showHold();
}

function showHold() {
  const seats = [...state.mine].map((id) => state.seats.get(id)).filter(Boolean)
    .sort((a, b) => a.y - b.y || a.x - b.x);
  $("hold").hidden = !seats.length;
  $("held").replaceChildren(...seats.map((seat) => {
    const li = document.createElement("li");
    li.textContent = `${seatName(seat)} · ${TYPE_NAMES[seat.type] ?? seat.type} · ` +
      money(seat.price);
    return li;
  }));
  const priced = seats.filter((s) => s.price);
  const sum = priced.reduce((total, s) => total + Math.round(Number(s.price.amount) * 100), 0);
  $("total").textContent = priced.length
    ? money({ amount: (sum / 100).toFixed(2), currency: priced[0].price.currency }) : "–";
  tick();
}

function tick() {
  if (!state.hold) return;
  const left = Math.max(0, Math.round((state.hold.expiresAt - Date.now()) / 1000));
  const text = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  $("countdown").textContent = `Held for ${text}`;
  if (left === 0) {
    for (const id of state.mine) {
      const seat = state.seats.get(id);
      if (seat && seat.status === "HELD") seat.status = "AVAILABLE";
    }
    setHold(null);
    say("Your hold expired and the seats were released.");
  }
}
setInterval(tick, 1000);

$("release").addEventListener("click", () => {
  state.queue = state.queue.then(release).catch((e) => say(e.message));
});

// --- checkout and payment -----------------------------------------------------------------

$("pay").addEventListener("click", () => {
  state.queue = state.queue.then(pay).catch((e) => say(e.message));
});

async function pay() {
  if (!state.hold) return;
  $("pay").disabled = true;
  try {
    const checkout = (await gql(CHECKOUT, {
      input: { holdId: state.hold.id, idempotencyKey: idempotencyKey() },
    })).checkout;
    if (checkout.errors.length) return say(checkout.errors[0].message);
    const paid = (await gql(PAY, {
      input: { orderId: checkout.order.id, paymentToken: "tok_visa",
        idempotencyKey: idempotencyKey() },
    })).payOrder;
    if (paid.errors.length) return say(paid.errors[0].message);
    for (const id of state.mine) state.seats.get(id).status = "SOLD";
    setHold(null);
    showTickets(paid.order);
    say("");
    announce(`Paid ${money(paid.order.total)}. Order ${paid.order.number}: ` +
      `${paid.order.tickets.length} ticket(s) below.`);
  } finally {
    $("pay").disabled = false;
  }
}

function showTickets(order) {
  $("tickets").hidden = false;
  $("ticket-list").append(...order.tickets.map((ticket) => {
    const li = document.createElement("li");
    li.className = "ticket";
    const img = document.createElement("img");
    img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(ticket.qrSvg)}`;
    img.alt = `QR code of ticket ${ticket.bookingReference}`;
    const text = document.createElement("p");
    text.textContent = `Row ${ticket.seat.rowLabel}, seat ${ticket.seat.number} · ` +
      `${money(ticket.price)} · ${ticket.bookingReference} (order ${order.number})`;
    li.append(img, text);
    return li;
  }));
}

// --- live seat statuses -------------------------------------------------------------------

function subscribe() {
  if (state.unsubscribe) state.unsubscribe();
  const id = state.showtimeId;
  state.unsubscribe = live.subscribe({ query: SEATS_LIVE, variables: { id } }, {
    next: (result) => {
      if (id !== state.showtimeId) return;
      if (result.errors) return say(result.errors[0].message);
      onSeatEvent(result.data.seatAvailability);
    },
    error: (error) => {
      say(`Live updates stopped: ${error.message ?? error.reason ?? "connection error"}`);
    },
    complete: () => {},
  });
}

function onSeatEvent(event) {
  if (event.snapshot) {
    // The first snapshot confirms the map just read; later ones follow a reconnection or gap.
    apply(event.seats, true);
    state.sequence = event.sequence;
    state.snapshots += 1;
    $("seats").dataset.sequence = String(event.sequence);
    $("seats").dataset.snapshots = String(state.snapshots);
    if (state.snapshots > 1) announce("Live updates resumed; the seat map was refreshed.");
    return;
  }
  if (state.sequence === null || event.sequence <= state.sequence) return;
  if (event.sequence !== state.sequence + 1) {
    // A change was missed: a fresh subscription starts with a full snapshot.
    state.sequence = null;
    setLive("reconnecting", "Refreshing…");
    subscribe();
    setLive("live", "Live");
    return;
  }
  state.sequence = event.sequence;
  $("seats").dataset.sequence = String(event.sequence);
  apply(event.seats, false);
}

function apply(changes, snapshot) {
  const taken = [];
  for (const { seatId, status } of changes) {
    const seat = state.seats.get(seatId);
    if (!seat || seat.status === status) continue;
    const others = !state.mine.has(seatId) && !state.pending.has(seatId);
    if (others && seat.status === "AVAILABLE" && status !== "AVAILABLE" && !snapshot) {
      taken.push(seat);
    }
    if (state.mine.has(seatId) && status !== "HELD") state.mine.delete(seatId);
    seat.status = status;
    paint(seat);
  }
  if (snapshot) showHold();
  if (taken.length) {
    announce(`${taken.length === 1 ? "Seat" : "Seats"} ${taken.map(seatName).join(", ")} ` +
      `just taken.`);
  }
}

// --- signing in ---------------------------------------------------------------------------

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  say("");
  try {
    const data = await gql(LOGIN, {
      input: { login: $("username").value.trim(), password: $("password").value },
    });
    const { accessToken, user, errors } = data.login;
    if (errors.length) return say(errors[0].message);
    Object.assign(state, { token: accessToken, user });
    $("password").value = "";
    $("who").textContent = user.username;
    $("login").hidden = true;
    $("account").hidden = false;
    announce(`Signed in as ${user.username}.`);
    if (state.showtimeId) await loadMyHold();
  } catch (error) {
    say(error.message);
  }
});

function signOut(why) {
  state.token = null;
  state.user = null;
  setHold(null);
  $("login").hidden = false;
  $("account").hidden = true;
  $("tickets").hidden = true;
  $("ticket-list").replaceChildren();
  if (why) say(why);
}

$("logout").addEventListener("click", () => signOut(""));

$("cinema").addEventListener("change", (e) => loadShowtimes(e.target.value).catch(
  (error) => say(error.message)));
$("showtime").addEventListener("change", (e) => loadShowtime(e.target.value).catch(
  (error) => say(error.message)));

// Demo data only: the server fills these in when it runs with `marquee serve --demo`.
const { demoUsers, demoPassword } = document.body.dataset;
if (demoUsers) {
  $("hint").hidden = false;
  $("hint").textContent = `Demo customers: ${demoUsers.split(" ").join(", ")}; ` +
    `password “${demoPassword}”.`;
}

loadCinemas().catch((error) => say(error.message));
