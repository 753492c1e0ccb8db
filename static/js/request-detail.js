/* A request's own page: the live socket only keeps the sidebar's status and the pool current. */
"use strict";

document.addEventListener("DOMContentLoaded", () => window.ccflare.live.start(["accounts"]));
