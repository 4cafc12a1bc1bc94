"""A hold's countdown ("Held for you for 29:41"), ticking in the browser.

The server sends the hold's end as an ISO instant (and its own clock at that moment, so a browser
whose clock is off still counts the server's time); the browser counts down by itself and calls
`on_expire` once when the hold lapses. The state is asked nothing while the clock runs.
"""

from __future__ import annotations

import reflex as rx

COUNTDOWN_JS = """
function efoyClockText(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

function EfoyHoldCountdown({ endsAt, serverNow, onExpire, prefix, ...rest }) {
  const [left, setLeft] = useState(null);
  const expire = useRef(onExpire);
  expire.current = onExpire;
  useEffect(() => {
    if (!endsAt) return undefined;
    const skew = serverNow ? Date.now() - Date.parse(serverNow) : 0;
    const end = Date.parse(endsAt) + skew;
    let fired = false;
    let timer = null;
    const tick = () => {
      const ms = end - Date.now();
      setLeft(Math.max(0, ms));
      if (ms <= 0 && !fired) {
        fired = true;
        if (timer !== null) clearInterval(timer);
        if (expire.current) expire.current();
      }
    };
    tick();
    if (!fired) timer = setInterval(tick, 1000);
    return () => { if (timer !== null) clearInterval(timer); };
  }, [endsAt, serverNow]);
  if (left === null) return null;
  return createElement("span", { role: "timer", ...rest }, `${prefix}${efoyClockText(left)}`);
}
"""


class HoldCountdown(rx.Component):
    """`<EfoyHoldCountdown endsAt serverNow prefix onExpire />`, defined in COUNTDOWN_JS."""

    tag = "EfoyHoldCountdown"

    ends_at: rx.Var[str]
    server_now: rx.Var[str]
    prefix: rx.Var[str]
    on_expire: rx.EventHandler[rx.event.no_args_event_spec]

    def add_imports(self) -> dict[str, list[str]]:
        return {"react": ["createElement", "useState", "useEffect", "useRef"]}

    def add_custom_code(self) -> list[str]:
        return [COUNTDOWN_JS]


hold_countdown = HoldCountdown.create
