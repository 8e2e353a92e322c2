// The console's client for Baton's staff API and the agent stream. The API key lives in
// sessionStorage: it is gone when the tab closes.

const KEY = "baton.console.key";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function savedKey() {
  return sessionStorage.getItem(KEY);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY);
}

export class Api {
  constructor(key) {
    this.key = key;
  }

  remember() {
    sessionStorage.setItem(KEY, this.key);
  }

  async request(method, path, body) {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: {
          authorization: `Bearer ${this.key}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "network", "Baton cannot be reached; check your connection.");
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const error = (data && data.error) || {};
      throw new ApiError(response.status, error.code || "error", error.message || `HTTP ${response.status}`);
    }
    return data;
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body = {}) {
    return this.request("POST", path, body);
  }

  put(path, body) {
    return this.request("PUT", path, body);
  }

  delete(path) {
    return this.request("DELETE", path);
  }

  /**
   * Follows the agent stream, reconnecting with back-off. `onFrame` gets every JSON frame
   * (a fresh `hello` after each reconnect); `onStatus` gets true/false as the link goes up
   * and down; `onRevoked` is called (and the stream stops) once the key no longer works —
   * the server closes with code 4401 when the account is disabled or the key replaced.
   * Returns `{ send(frame), stop() }`.
   */
  stream(onFrame, onStatus, onRevoked) {
    let socket = null;
    let stopped = false;
    let delay = 1000;
    let timer = null;
    const stop = () => {
      stopped = true;
      clearTimeout(timer);
      if (socket) socket.close();
    };
    // Whether the key (which may have been replaced meanwhile) still opens the API.
    const keyWorks = () => this.get("/v1/agent/me").then(() => true, (error) => error.status !== 401);
    const open = () => {
      const url = new URL("/v1/agent/stream", location.href);
      url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
      url.searchParams.set("token", this.key);
      socket = new WebSocket(url.href);
      socket.onopen = () => {
        delay = 1000;
        onStatus(true);
      };
      socket.onmessage = (message) => {
        try {
          onFrame(JSON.parse(message.data));
        } catch (error) {
          console.error("agent stream frame", error);
        }
      };
      socket.onclose = async (event) => {
        onStatus(false);
        if (stopped) return;
        // A refused upgrade looks like any dropped link: ask the API why before retrying.
        if (event.code === 4401 || delay > 1000) {
          if (!(await keyWorks())) {
            stop();
            onRevoked();
            return;
          }
        }
        if (stopped) return;
        timer = setTimeout(open, event.code === 4401 ? 0 : delay);
        delay = Math.min(delay * 2, 15000);
      };
    };
    open();
    return {
      stop,
      send(frame) {
        if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
      },
    };
  }
}
