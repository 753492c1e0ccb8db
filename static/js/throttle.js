/* Rate-limiting bursts (live events, re-reads): throttle(fn, wait). */
"use strict";

(function () {
  const ccflare = (window.ccflare = window.ccflare || {});

  /* Calls fn at most once per `wait` ms, always with a trailing call (so the last event counts). */
  function throttle(fn, wait) {
    let last = 0;
    let timer = null;
    return function throttled() {
      const remaining = wait - (Date.now() - last);
      if (remaining <= 0 && !timer) {
        last = Date.now();
        fn();
      } else if (!timer) {
        timer = setTimeout(() => {
          timer = null;
          last = Date.now();
          fn();
        }, Math.max(remaining, 0));
      }
    };
  }

  ccflare.throttle = throttle;
})();
