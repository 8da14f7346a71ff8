// Apollo Client (HTTP) + graphql-ws (subscriptions) driving Marquee end to end: registers,
// pages through the movies, opens a showtime, watches its seats, holds, checks out, pays,
// lists its tickets and cancels, asserting what it sees (docs/clients.md); first, an
// anonymous client runs a query through automatic persisted queries over GET.
//
//   node client.mjs http://127.0.0.1:8000 [expected movie count]
//
// Exits 0 when every step saw what it expected; otherwise prints the step and the mismatch
// and exits 1. The operations are those of the Python gql client (../operations.graphql).

import { readFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { Kind, OperationTypeNode, parse } from "graphql";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const PAGE_SIZE = 4;
const SEATS_TO_BUY = 2;
const EVENT_WAIT_MS = 10_000;
const GRAPHQL_RESPONSE = "application/graphql-response+json";

class Mismatch extends Error {}

function check(condition, message) {
  if (!condition) throw new Mismatch(message);
}

// One document per operation: Apollo runs documents that hold a single operation.
const OPS = Object.fromEntries(
  parse(readFileSync(new URL("../operations.graphql", import.meta.url), "utf8"))
    .definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION)
    .map((d) => [d.name.value, { kind: Kind.DOCUMENT, definitions: [d] }]),
);

// Every HTTP response's Content-Type, to check what the server negotiated with Apollo's
// default Accept (application/graphql-response+json,application/json;q=0.9).
const contentTypes = new Set();
async function recordingFetch(input, init) {
  const response = await fetch(input, init);
  contentTypes.add((response.headers.get("content-type") ?? "").split(";")[0].trim());
  return response;
}

function makeClient(endpoint, token) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const http = new HttpLink({ uri: endpoint, headers, fetch: recordingFetch });
  const wsClient = createClient({
    url: endpoint.replace(/^http/, "ws"),
    webSocketImpl: WebSocket,
    connectionParams: headers,
    retryAttempts: 0,
  });
  const link = ApolloLink.split(
    ({ query }) =>
      query.definitions.some(
        (d) => d.kind === Kind.OPERATION_DEFINITION && d.operation === OperationTypeNode.SUBSCRIPTION,
      ),
    new GraphQLWsLink(wsClient),
    http,
  );
  const client = new ApolloClient({
    link,
    cache: new InMemoryCache(),
    defaultOptions: { query: { fetchPolicy: "network-only" } },
  });
  return { client, wsClient };
}

// The events of a seatAvailability subscription, waited for one by one.
class SeatEvents {
  constructor(observable) {
    this.events = [];
    this.waiters = [];
    this.lastSequence = null;
    this.failure = null;
    this.subscription = observable.subscribe({
      next: (result) => {
        if (result.error) this.failure = result.error;
        else this.events.push(result.data.seatAvailability);
        this.waiters.splice(0).forEach((wake) => wake());
      },
      error: (error) => {
        this.failure = error;
        this.waiters.splice(0).forEach((wake) => wake());
      },
    });
  }

  async next() {
    const deadline = Date.now() + EVENT_WAIT_MS;
    while (this.events.length === 0) {
      if (this.failure) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new Mismatch("no seatAvailability event arrived in time");
      await new Promise((wake) => {
        this.waiters.push(wake);
        setTimeout(wake, left);
      });
    }
    const event = this.events.shift();
    if (this.lastSequence !== null) {
      check(
        event.sequence === this.lastSequence + 1,
        `event sequence ${event.sequence} after ${this.lastSequence}`,
      );
    }
    this.lastSequence = event.sequence;
    return event;
  }

  // Read events until every one of seatIds has been reported with `status`.
  async until(seatIds, status) {
    const seen = {};
    while (seatIds.some((id) => seen[id] !== status)) {
      let event;
      try {
        event = await this.next();
      } catch (error) {
        if (!(error instanceof Mismatch)) throw error;
        throw new Mismatch(`seats ${seatIds} never became ${status}; saw ${JSON.stringify(seen)}`);
      }
      check(!event.snapshot, "a second snapshot arrived");
      for (const change of event.seats) seen[change.seatId] = change.status;
    }
  }

  close() {
    this.subscription.unsubscribe();
  }
}

async function query(client, name, variables = {}) {
  const { data } = await client.query({ query: OPS[name], variables });
  return data;
}

async function mutate(client, name, variables) {
  const { data } = await client.mutate({ mutation: OPS[name], variables });
  return data;
}

async function browse(client, expected) {
  const movies = [];
  const seen = new Set();
  let after = null;
  let pages = 0;
  let connection;
  for (;;) {
    connection = (await query(client, "Movies", { first: PAGE_SIZE, after })).movies;
    pages += 1;
    check(connection.edges.length <= PAGE_SIZE, `page ${pages} is larger than first`);
    for (const { node } of connection.edges) {
      check(!seen.has(node.id), `movie ${node.id} came twice (page ${pages})`);
      seen.add(node.id);
      movies.push(node);
    }
    if (!connection.pageInfo.hasNextPage) break;
    check(connection.pageInfo.endCursor !== null, "hasNextPage without an endCursor");
    after = connection.pageInfo.endCursor;
  }
  check(
    movies.length === connection.totalCount,
    `saw ${movies.length} movies, totalCount says ${connection.totalCount}`,
  );
  if (expected !== null) {
    check(movies.length === expected, `saw ${movies.length} movies, expected ${expected}`);
  }
  check(pages > 1, "the catalog fit on one page: paging was not exercised");
  return movies;
}

// Automatic persisted queries over GET (docs/persisted-queries.md): the first request
// sends only the hash and is told PersistedQueryNotFound, the link sends the query with
// it, and from then on the hash alone, over GET, gets the same data.
async function persistedQueries(endpoint) {
  const exchanges = [];
  async function recording(input, init) {
    const url = new URL(typeof input === "string" ? input : input.url);
    const method = (init?.method ?? "GET").toUpperCase();
    const response = await fetch(input, init);
    const body = await response.clone().json();
    const sentQuery =
      method === "GET" ? url.searchParams.has("query") : "query" in JSON.parse(init.body);
    const codes = (body.errors ?? []).map((e) => e.extensions?.code);
    exchanges.push({ method, sentQuery, codes, data: body.data != null });
    return response;
  }
  const sha256 = (text) => createHash("sha256").update(text).digest("hex");
  const link = new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
    new HttpLink({ uri: endpoint, fetch: recording }),
  );
  const client = new ApolloClient({
    link,
    cache: new InMemoryCache(),
    defaultOptions: { query: { fetchPolicy: "network-only" } },
  });
  const variables = { first: PAGE_SIZE, after: null };
  const first = await query(client, "Movies", variables);
  const again = await query(client, "Movies", variables);
  check(
    JSON.stringify(first) === JSON.stringify(again),
    "the persisted query answered other data than the query",
  );
  const [unknown, withQuery, hashed] = exchanges;
  const seen = JSON.stringify(exchanges);
  check(exchanges.length === 3, `persisted queries took ${exchanges.length} requests: ${seen}`);
  check(
    unknown.method === "GET" && !unknown.sentQuery && unknown.codes[0] === "PERSISTED_QUERY_NOT_FOUND",
    `the first hash was not answered PERSISTED_QUERY_NOT_FOUND: ${seen}`,
  );
  check(withQuery.sentQuery && withQuery.data, `the retry with the query failed: ${seen}`);
  check(
    hashed.method === "GET" && !hashed.sentQuery && hashed.data && hashed.codes.length === 0,
    `the hash alone over GET did not answer: ${seen}`,
  );
  console.log("persisted query over GET: not found, stored, then found by hash");
}

async function run(baseUrl, expectedMovies) {
  const endpoint = `${baseUrl.replace(/\/$/, "")}/graphql`;
  await persistedQueries(endpoint);
  const anonymous = makeClient(endpoint, null);
  const name = `apollo_${randomBytes(4).toString("hex")}`;
  const registered = (
    await mutate(anonymous.client, "Register", {
      input: {
        username: name,
        email: `${name}@example.com`,
        password: "a long enough password",
        fullName: "Apollo Client",
      },
    })
  ).register;
  check(registered.errors.length === 0, `register failed: ${JSON.stringify(registered.errors)}`);
  check(registered.user.username === name, "register returned another user");
  await anonymous.wsClient.dispose();
  console.log(`registered ${name}`);

  const { client, wsClient } = makeClient(endpoint, registered.accessToken);
  try {
    // A request error under application/graphql-response+json is a 400 whose body Apollo
    // still reads as GraphQL errors (not a bare "status code 400").
    try {
      await client.query({ query: parse("{ noSuchField }") });
      throw new Mismatch("an invalid query succeeded");
    } catch (error) {
      if (error instanceof Mismatch) throw error;
      check(
        error.errors?.[0]?.extensions?.code === "BAD_USER_INPUT",
        `an invalid query gave ${error.name}: ${error.message}`,
      );
    }

    const movies = await browse(client, expectedMovies);
    console.log(`browsed ${movies.length} movies`);
    const candidates = movies.flatMap((m) =>
      m.showtimes.edges.map((e) => e.node).filter((s) => s.availableSeatCount >= SEATS_TO_BUY),
    );
    check(candidates.length > 0, "no movie has a showtime with free seats");
    const showtime = (await query(client, "Showtime", { id: candidates[0].id })).showtime;
    const seats = showtime.seatMap.rows.flatMap((row) => row.seats);
    const free = seats.filter((s) => s.status === "AVAILABLE").map((s) => s.id);
    check(free.length === showtime.availableSeatCount, "seat map and count disagree");
    const chosen = free.slice(0, SEATS_TO_BUY);
    console.log(`opened showtime ${showtime.id}: ${seats.length} seats, ${free.length} free`);

    const events = new SeatEvents(
      client.subscribe({ query: OPS.SeatAvailability, variables: { showtimeId: showtime.id } }),
    );
    let order;
    try {
      const snapshot = await events.next();
      check(snapshot.snapshot === true, "the first event is not a snapshot");
      const statuses = Object.fromEntries(snapshot.seats.map((c) => [c.seatId, c.status]));
      check(
        seats.every((s) => statuses[s.id] === s.status) && snapshot.seats.length === seats.length,
        "the snapshot differs from the seat map",
      );
      console.log(`snapshot at sequence ${snapshot.sequence}`);

      const held = (
        await mutate(client, "HoldSeats", { input: { showtimeId: showtime.id, seatIds: chosen } })
      ).holdSeats;
      check(held.errors.length === 0, `holdSeats failed: ${JSON.stringify(held.errors)}`);
      check(
        JSON.stringify(held.hold.seats.map((s) => s.id).sort()) === JSON.stringify([...chosen].sort()),
        "the hold has other seats",
      );
      await events.until(chosen, "HELD");
      console.log("own hold arrived as HELD");

      const checkout = (
        await mutate(client, "Checkout", {
          input: { holdId: held.hold.id, idempotencyKey: randomBytes(8).toString("hex") },
        })
      ).checkout;
      check(checkout.errors.length === 0, `checkout failed: ${JSON.stringify(checkout.errors)}`);
      order = checkout.order;
      check(order.status === "PENDING_PAYMENT", `checkout gave ${order.status}`);

      const paid = (
        await mutate(client, "PayOrder", { input: { orderId: order.id, paymentToken: "tok_visa" } })
      ).payOrder;
      check(paid.errors.length === 0, `payOrder failed: ${JSON.stringify(paid.errors)}`);
      check(paid.order.status === "PAID", `payOrder gave ${paid.order.status}`);
      await events.until(chosen, "SOLD");
      console.log(`paid order ${order.number} (${order.total.amount})`);

      const tickets = (await query(client, "MyTickets")).me.tickets.edges
        .map((e) => e.node)
        .filter((t) => t.order.id === order.id);
      check(
        JSON.stringify(tickets.map((t) => t.seat.id).sort()) === JSON.stringify([...chosen].sort()),
        `tickets for ${tickets.map((t) => t.seat.id)}, bought ${chosen}`,
      );
      check(tickets.every((t) => t.status === "VALID"), "a new ticket is not VALID");
      check(
        tickets.every((t) => t.showtime.id === showtime.id),
        "a ticket is for another showtime",
      );
      console.log(`tickets ${tickets.map((t) => t.bookingReference).join(", ")}`);

      const cancelled = (await mutate(client, "CancelOrder", { input: { orderId: order.id } }))
        .cancelOrder;
      check(cancelled.errors.length === 0, `cancelOrder failed: ${JSON.stringify(cancelled.errors)}`);
      check(
        cancelled.order.status === "REFUNDED",
        `cancelling a paid order gave ${cancelled.order.status}`,
      );
      await events.until(chosen, "AVAILABLE");
      console.log("seats came back AVAILABLE");
    } finally {
      events.close();
    }

    const after = new Set(
      (await query(client, "MyTickets")).me.tickets.edges
        .map((e) => e.node)
        .filter((t) => t.order.id === order.id)
        .map((t) => t.status),
    );
    check(after.size === 1 && after.has("CANCELLED"), `tickets after the refund: ${[...after]}`);
    check(
      contentTypes.size === 1 && contentTypes.has(GRAPHQL_RESPONSE),
      `responses came as ${[...contentTypes]}, not only ${GRAPHQL_RESPONSE}`,
    );
  } finally {
    await wsClient.dispose();
  }
}

const [baseUrl, expected] = process.argv.slice(2);
if (!baseUrl) {
  console.error("usage: node client.mjs <base URL> [expected movie count]");
  process.exit(2);
}
try {
  await run(baseUrl, expected === undefined ? null : Number(expected));
  console.log("apollo client: every step as expected");
  process.exit(0);
} catch (error) {
  const kind = error instanceof Mismatch ? "MISMATCH" : `FAILED: ${error.name}`;
  console.error(`apollo client: ${kind}: ${error.message}`);
  process.exit(1);
}
