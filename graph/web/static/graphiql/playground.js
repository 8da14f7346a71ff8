// Marquee's GraphiQL page: GraphiQL with the explorer plugin, queries and mutations over
// HTTP, subscriptions over WebSocket (graphql-transport-ws, the vendored graphql-ws
// client). Every request goes to this page's own origin (docs/playground.md).
/* global React, ReactDOM, GraphiQL, GraphiQLPluginExplorer, graphqlWs */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("graphiql-config").textContent);
  const httpUrl = new URL(config.endpoint, window.location.href);
  const wsUrl = new URL(httpUrl);
  wsUrl.protocol = httpUrl.protocol === "https:" ? "wss:" : "ws:";

  // The headers of the Headers tab, without an Authorization that carries no token (the
  // default "Bearer "): anonymous, as the server reads it over HTTP, and not sent in
  // connection_init, where the server would refuse it as malformed.
  function headersOf(headers) {
    const result = {};
    for (const [name, value] of Object.entries(headers || {})) {
      if (name.toLowerCase() === "authorization" && !/^\s*\S+\s+\S/.test(String(value))) {
        continue;
      }
      result[name] = String(value);
    }
    return result;
  }

  function authorizationOf(headers) {
    for (const [name, value] of Object.entries(headers)) {
      if (name.toLowerCase() === "authorization") {
        return value;
      }
    }
    return null;
  }

  function operationOf(params, documentAST) {
    const operations = ((documentAST && documentAST.definitions) || []).filter(
      (definition) => definition.kind === "OperationDefinition",
    );
    if (params.operationName) {
      const named = operations.find(
        (operation) => operation.name && operation.name.value === params.operationName,
      );
      if (named) {
        return named.operation;
      }
    }
    return operations.length === 1 ? operations[0].operation : "query";
  }

  async function overHttp(params, headers) {
    const response = await fetch(httpUrl, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/graphql-response+json, application/json",
        ...headers,
      },
      body: JSON.stringify(params),
    });
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      return { errors: [{ message: `HTTP ${response.status}: ${text}` }] };
    }
  }

  // One WebSocket per subscription, opened with the Authorization of the Headers tab as
  // it is when the subscription starts: after a change of header the next subscription
  // signs in with the new one. The socket closes when the subscription ends or is stopped.
  function overWebSocket(params, headers) {
    return {
      subscribe(observer) {
        const authorization = authorizationOf(headers);
        const client = graphqlWs.createClient({
          url: wsUrl.href,
          connectionParams: authorization ? { Authorization: authorization } : {},
          lazy: true,
          retryAttempts: 0,
        });
        let done = false;
        const finish = () => {
          if (!done) {
            done = true;
            client.dispose();
          }
        };
        const stop = client.subscribe(params, {
          next: (value) => observer.next(value),
          error: (error) => {
            // A refused connection (an invalid token: 4403) arrives as a CloseEvent.
            const message =
              error instanceof Error
                ? error.message
                : error && "code" in error
                  ? `The WebSocket closed (${error.code}${error.reason ? ": " + error.reason : ""}).`
                  : JSON.stringify(error);
            observer.next({ errors: Array.isArray(error) ? error : [{ message }] });
            finish();
            observer.complete();
          },
          complete: () => {
            finish();
            observer.complete();
          },
        });
        return {
          unsubscribe() {
            stop();
            finish();
          },
        };
      },
    };
  }

  function fetcher(params, options) {
    const headers = headersOf(options && options.headers);
    if (operationOf(params, options && options.documentAST) === "subscription") {
      return overWebSocket(params, headers);
    }
    return overHttp(params, headers);
  }

  const explorer = GraphiQLPluginExplorer.explorerPlugin();
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher,
      plugins: [explorer],
      defaultTabs: [
        { query: config.query, variables: config.variables, headers: config.headers },
      ],
      defaultQuery: config.query,
      defaultHeaders: config.headers,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
    }),
  );
})();
