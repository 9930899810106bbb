/*
 * The loyalty program's storefront widget: one script tag on any shop's pages (docs/widget.md).
 *
 *   <script src="https://PORTAL/static/widget/loyalty.js" data-shop="pk_..." async></script>
 *
 * A signed-in shopper: add data-token="<JWT signed by the shop's server>" to the tag, or call
 * window.LoyaltyWidget.setToken(token) (also to renew it before it expires; null signs out).
 *
 * Plain JavaScript, no dependencies, no build step. Everything lives in a Shadow DOM, so the shop's styles
 * and the widget's cannot touch each other. Words come translated from the server (GET config); the
 * English ones below are only fallbacks. The widget never sends cookies (credentials: "omit").
 */
(function () {
  "use strict";

  if (window.LoyaltyWidget && window.LoyaltyWidget.version) {
    return; // the snippet pasted twice: one widget
  }

  var script =
    document.currentScript ||
    document.querySelector('script[data-shop][src*="widget/loyalty.js"]');
  if (!script || !script.getAttribute("data-shop")) {
    return;
  }
  var shopKey = script.getAttribute("data-shop");
  var apiBase =
    new URL(script.src, document.baseURI).origin + "/api/v1/widget/" + encodeURIComponent(shopKey) + "/";

  var FALLBACK = {
    launcher: "Rewards",
    title: "Rewards",
    welcome_guest: "Join and earn points on every order.",
    welcome_member: "Welcome back!",
    join: "Join now",
    sign_in: "Sign in",
    points: "points",
    available: "Available",
    pending: "Pending",
    pending_hint: "",
    expiring: "%(points)s expire on %(date)s",
    tier: "Your tier",
    ways_to_earn: "Ways to earn",
    rewards: "Rewards",
    redeem: "Redeem",
    confirm: "Redeem %(title)s for %(points)s points?",
    confirm_yes: "Yes, redeem",
    cancel: "Cancel",
    your_code: "Your code",
    copy: "Copy",
    copied: "Copied",
    code_hint: "",
    referral: "Invite friends",
    referral_hint: "",
    activity: "Recent activity",
    no_activity: "Nothing here yet.",
    close: "Close",
    open: "Open rewards",
    error: "Something went wrong. Please try again.",
    session_expired: "Your session has expired. Please reload the page.",
    not_member: "You are not a member yet.",
  };

  var state = {
    token: script.getAttribute("data-token") || null,
    config: null,
    me: null,
    notice: "", // an error to show above the content
    view: "home", // home | confirm | code
    reward: null, // the reward being confirmed
    redemption: null, // the redemption just made
    busy: false,
    open: false,
  };

  // --- helpers ------------------------------------------------------------------------------------------

  function t(name, params) {
    var texts = (state.config && state.config.texts) || {};
    var text = texts[name] != null ? texts[name] : FALLBACK[name] || "";
    if (params) {
      text = text.replace(/%\((\w+)\)s/g, function (_, key) {
        return params[key] != null ? String(params[key]) : "";
      });
    }
    return text;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value == null || value === false) return;
        if (key === "text") node.textContent = value;
        else if (key === "onclick") node.addEventListener("click", value);
        else node.setAttribute(key, value === true ? "" : value);
      });
    }
    (children || []).forEach(function (child) {
      if (child == null || child === false) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function number(value) {
    try {
      return Number(value).toLocaleString();
    } catch (e) {
      return String(value);
    }
  }

  function date(value) {
    try {
      return new Date(value).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
    } catch (e) {
      return value;
    }
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
  }

  function request(method, path, body, headers) {
    var options = { method: method, mode: "cors", credentials: "omit", headers: headers || {} };
    if (state.token) options.headers.Authorization = "Bearer " + state.token;
    if (body) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(apiBase + path, options).then(function (response) {
      return response
        .json()
        .catch(function () {
          return {};
        })
        .then(function (data) {
          if (!response.ok) {
            var error = new Error((data.error && data.error.message) || response.statusText);
            error.status = response.status;
            error.code = data.error && data.error.code;
            throw error;
          }
          return data;
        });
    });
  }

  // --- the shadow DOM -----------------------------------------------------------------------------------

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box}",
    ".lw{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2430;position:fixed;bottom:20px;z-index:2147483000}",
    ".lw.bottom-right{right:20px}.lw.bottom-left{left:20px}",
    "button,a.button{font:inherit;cursor:pointer;border-radius:999px;border:0;padding:.55em 1.1em;background:var(--lw-colour);color:var(--lw-text);text-decoration:none;display:inline-block}",
    "button:focus-visible,a:focus-visible{outline:3px solid #111;outline-offset:2px}",
    "button[disabled]{opacity:.5;cursor:not-allowed}",
    "button.secondary,a.button.secondary{background:transparent;color:#1d2430;border:1px solid #c7ccd4}",
    ".launcher{box-shadow:0 4px 14px rgba(0,0,0,.25);font-weight:600;padding:.8em 1.3em}",
    ".panel{position:absolute;bottom:64px;width:360px;max-height:min(620px,calc(100vh - 100px));overflow:auto;background:#fff;border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.3)}",
    ".bottom-right .panel{right:0}.bottom-left .panel{left:0}",
    ".panel[hidden]{display:none}",
    "header{background:var(--lw-colour);color:var(--lw-text);padding:14px 16px;display:flex;align-items:center;justify-content:space-between;gap:8px;position:sticky;top:0}",
    "header h2{margin:0;font-size:1.1em}",
    "header button{background:transparent;color:var(--lw-text);padding:.2em .5em;font-size:1.3em;line-height:1}",
    ".body{padding:14px 16px 18px}",
    "h3{font-size:.95em;margin:18px 0 6px;text-transform:none}",
    "p{margin:.3em 0}",
    "ul{list-style:none;margin:0;padding:0}",
    "li{padding:7px 0;border-bottom:1px solid #eef0f3}",
    "li:last-child{border-bottom:0}",
    ".points{display:flex;gap:18px;margin:8px 0}",
    ".points strong{display:block;font-size:1.6em;line-height:1.1}",
    ".muted{color:#5b6470;font-size:.9em}",
    ".notice{background:#fff4e5;border:1px solid #f0b45b;border-radius:8px;padding:8px 10px;margin-bottom:10px}",
    ".bar{height:8px;background:#eef0f3;border-radius:99px;overflow:hidden;margin:6px 0}",
    ".bar span{display:block;height:100%;background:var(--lw-colour)}",
    ".reward{display:flex;align-items:center;justify-content:space-between;gap:10px}",
    ".reward button{padding:.35em .9em;flex:none}",
    ".code{font:600 1.3em/1.2 ui-monospace,Menlo,Consolas,monospace;letter-spacing:.06em;padding:10px;border:2px dashed #c7ccd4;border-radius:8px;text-align:center;margin:8px 0;user-select:all;word-break:break-all}",
    ".row{display:flex;gap:8px;flex-wrap:wrap;margin-top:10px}",
    ".link{display:flex;gap:8px;align-items:center}",
    ".link input{flex:1;min-width:0;font:inherit;padding:.45em .6em;border:1px solid #c7ccd4;border-radius:8px}",
    ".plus{color:#1a7f37}.minus{color:#b42318}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    "@media (max-width:480px){.lw{bottom:12px}.lw.bottom-right{right:12px}.lw.bottom-left{left:12px}",
    ".panel{position:fixed;left:0;right:0;bottom:0;width:100%;max-height:88vh;border-radius:14px 14px 0 0}",
    ".bottom-right .panel,.bottom-left .panel{left:0;right:0}}",
    "@media (prefers-reduced-motion:no-preference){.panel{transition:opacity .15s}}",
  ].join("\n");

  var host = document.createElement("div");
  host.setAttribute("data-loyalty-widget", "");
  var root = host.attachShadow({ mode: "open" });
  var style = document.createElement("style");
  style.textContent = CSS;
  var box = el("div", { class: "lw bottom-right" });
  var launcher = el("button", {
    class: "launcher",
    type: "button",
    "aria-expanded": "false",
    "aria-controls": "lw-panel",
    "aria-haspopup": "dialog",
    text: FALLBACK.launcher,
  });
  var panel = el("div", {
    class: "panel",
    id: "lw-panel",
    role: "dialog",
    "aria-modal": "true",
    "aria-labelledby": "lw-title",
    hidden: true,
  });
  var live = el("div", { class: "sr", "aria-live": "polite" });
  box.appendChild(panel);
  box.appendChild(launcher);
  box.appendChild(live);
  root.appendChild(style);
  root.appendChild(box);

  function theme() {
    var config = state.config;
    var colour = (config && config.theme.colour) || "#1F6FEB";
    var text = (config && config.theme.text_colour) || "#FFFFFF";
    box.style.setProperty("--lw-colour", colour);
    box.style.setProperty("--lw-text", text);
    box.className = "lw " + ((config && config.theme.position) || "bottom-right");
    launcher.textContent = t("launcher");
    launcher.setAttribute("aria-label", t("open"));
  }

  // --- what the panel shows -----------------------------------------------------------------------------

  function section(title, children) {
    return el("section", null, [el("h3", { text: title })].concat(children));
  }

  function list(items, render) {
    return el("ul", null, items.map(render));
  }

  function copyButton(getText) {
    var button = el("button", { type: "button", class: "secondary", text: t("copy") });
    button.addEventListener("click", function () {
      var text = getText();
      var done = function () {
        button.textContent = t("copied");
        live.textContent = t("copied");
        setTimeout(function () {
          button.textContent = t("copy");
        }, 2500);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () {
          fallbackCopy(text) && done();
        });
      } else if (fallbackCopy(text)) {
        done();
      }
    });
    return button;
  }

  function fallbackCopy(text) {
    var area = el("textarea", { class: "sr", readonly: true });
    area.value = text;
    root.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    root.removeChild(area);
    return ok;
  }

  function guestContent() {
    var config = state.config;
    return [
      el("p", { text: t("welcome_guest") }),
      config.ways_to_earn.length
        ? section(t("ways_to_earn"), [list(config.ways_to_earn, function (w) { return el("li", { text: w }); })])
        : null,
      config.rewards.length
        ? section(t("rewards"), [
            list(config.rewards, function (r) {
              return el("li", { class: "reward" }, [
                el("span", null, [r.title, el("br"), el("span", { class: "muted", text: r.gives })]),
                el("span", { class: "muted", text: number(r.points) + " " + t("points") }),
              ]);
            }),
          ])
        : null,
      el("div", { class: "row" }, [
        el("a", { class: "button", href: config.links.join, "data-lw": "join", text: t("join") }),
        el("a", { class: "button secondary", href: config.links.sign_in, text: t("sign_in") }),
      ]),
    ];
  }

  function memberContent() {
    var me = state.me;
    var member = me.member;
    var out = [
      el("p", { text: t("welcome_member", { name: member.first_name || "" }).replace(/,\s*!/, "!") }),
      el("div", { class: "points" }, [
        el("div", null, [
          el("strong", { "data-lw": "available", text: number(member.available) }),
          el("span", { class: "muted", text: t("available") }),
        ]),
        el("div", null, [
          el("strong", { "data-lw": "pending", text: number(member.pending) }),
          el("span", { class: "muted", text: t("pending") }),
        ]),
      ]),
      member.pending ? el("p", { class: "muted", text: t("pending_hint") }) : null,
      member.next_expiry
        ? el("p", {
            class: "muted",
            text: t("expiring", {
              points: number(member.next_expiry.points) + " " + t("points"),
              date: date(member.next_expiry.expires_at),
            }),
          })
        : null,
    ];
    if (me.tier) {
      out.push(
        section(t("tier"), [
          el("p", null, [el("strong", { "data-lw": "tier", text: (me.tier.icon ? me.tier.icon + " " : "") + me.tier.name })]),
          me.tier.next
            ? el("div", {
                class: "bar",
                role: "progressbar",
                "aria-valuemin": "0",
                "aria-valuemax": "100",
                "aria-valuenow": String(me.tier.percent),
                "aria-label": me.tier.progress || me.tier.next,
              }, [el("span", { style: "width:" + Math.max(0, Math.min(100, me.tier.percent)) + "%" })])
            : null,
          me.tier.progress ? el("p", { class: "muted", text: me.tier.progress }) : null,
          me.tier.missing ? el("p", { class: "muted", text: me.tier.missing }) : null,
        ])
      );
    }
    if (me.rewards.length) {
      out.push(
        section(t("rewards"), [
          list(me.rewards, function (r) {
            var button = el("button", {
              type: "button",
              text: t("redeem"),
              disabled: !r.can_redeem,
              "aria-label": t("redeem") + ": " + r.title,
            });
            button.addEventListener("click", function () {
              state.view = "confirm";
              state.reward = r;
              state.notice = "";
              render(true);
            });
            return el("li", { class: "reward", "data-lw": "reward" }, [
              el("span", null, [
                r.title,
                el("br"),
                el("span", { class: "muted", text: number(r.points) + " " + t("points") }),
                r.why_not ? el("br") : null,
                r.why_not ? el("span", { class: "muted", text: r.why_not }) : null,
              ]),
              button,
            ]);
          }),
        ])
      );
    }
    if (me.ways_to_earn.length) {
      out.push(section(t("ways_to_earn"), [list(me.ways_to_earn, function (w) { return el("li", { text: w }); })]));
    }
    if (me.referral) {
      var input = el("input", { type: "text", readonly: true, value: me.referral.link, "aria-label": t("referral") });
      out.push(
        section(t("referral"), [
          t("referral_hint") ? el("p", { class: "muted", text: t("referral_hint") }) : null,
          el("div", { class: "link" }, [input, copyButton(function () { return me.referral.link; })]),
        ])
      );
    }
    out.push(
      section(t("activity"), [
        me.activity.length
          ? list(me.activity, function (e) {
              var sign = e.points > 0 ? "+" : "";
              return el("li", { class: "reward" }, [
                el("span", null, [e.reason || e.label, el("br"), el("span", { class: "muted", text: date(e.created_at) })]),
                el("span", { class: e.points >= 0 ? "plus" : "minus", text: sign + number(e.points) }),
              ]);
            })
          : el("p", { class: "muted", text: t("no_activity") }),
      ])
    );
    return out;
  }

  function confirmContent() {
    var reward = state.reward;
    var yes = el("button", { type: "button", "data-lw": "confirm", text: t("confirm_yes"), disabled: state.busy });
    yes.addEventListener("click", redeem);
    var no = el("button", { type: "button", class: "secondary", text: t("cancel") });
    no.addEventListener("click", function () {
      state.view = "home";
      render(true);
    });
    return [
      el("p", { text: t("confirm", { title: reward.title, points: number(reward.points) }) }),
      el("p", { class: "muted", text: reward.gives }),
      el("div", { class: "row" }, [yes, no]),
    ];
  }

  function codeContent() {
    var redemption = state.redemption;
    var code = redemption.coupon ? redemption.coupon.code : "";
    var back = el("button", { type: "button", class: "secondary", text: t("close") });
    back.addEventListener("click", function () {
      state.view = "home";
      render(true);
    });
    return [
      el("h3", { text: redemption.reward.title }),
      code ? el("p", { text: t("your_code") }) : null,
      code ? el("div", { class: "code", "data-lw": "code", text: code }) : null,
      code && t("code_hint") ? el("p", { class: "muted", text: t("code_hint") }) : null,
      el("div", { class: "row" }, [code ? copyButton(function () { return code; }) : null, back]),
    ];
  }

  function render(moveFocus) {
    theme();
    while (panel.firstChild) panel.removeChild(panel.firstChild);
    var close = el("button", { type: "button", "aria-label": t("close"), "data-lw": "close", text: "×" });
    close.addEventListener("click", function () {
      setOpen(false);
    });
    panel.appendChild(el("header", null, [el("h2", { id: "lw-title", text: t("title") }), close]));
    var content;
    if (!state.config) content = [el("p", { class: "muted", text: state.notice || "…" })];
    else if (state.view === "confirm" && state.reward) content = confirmContent();
    else if (state.view === "code" && state.redemption) content = codeContent();
    else if (state.me) content = memberContent();
    else content = guestContent();
    var body = el("div", { class: "body" }, [
      state.notice && state.config ? el("p", { class: "notice", role: "alert", "data-lw": "notice", text: state.notice }) : null,
    ].concat(content));
    panel.appendChild(body);
    if (moveFocus && state.open) focusFirst();
  }

  // --- opening, closing, the focus trap -----------------------------------------------------------------

  function focusables() {
    return Array.prototype.filter.call(
      panel.querySelectorAll("button, a[href], input, [tabindex]:not([tabindex='-1'])"),
      function (node) {
        return !node.disabled && node.offsetParent !== null;
      }
    );
  }

  function focusFirst() {
    var nodes = focusables();
    // The first thing after the close button (the content), else the close button.
    (nodes[1] || nodes[0] || panel).focus();
  }

  function setOpen(open) {
    state.open = open;
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      render(false); // a code shown before closing is not shown again
      focusFirst();
    } else {
      state.view = "home";
      launcher.focus();
    }
  }

  launcher.addEventListener("click", function () {
    setOpen(!state.open);
  });

  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      setOpen(false);
      return;
    }
    if (event.key !== "Tab") return;
    var nodes = focusables();
    if (!nodes.length) return;
    var first = nodes[0];
    var last = nodes[nodes.length - 1];
    var active = root.activeElement;
    if (event.shiftKey && (active === first || !panel.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !panel.contains(active))) {
      event.preventDefault();
      first.focus();
    }
  });

  // --- talking to the server ----------------------------------------------------------------------------

  function loadMe() {
    if (!state.token) {
      state.me = null;
      render(false);
      return Promise.resolve();
    }
    return request("GET", "me")
      .then(function (me) {
        state.me = me;
        state.notice = "";
      })
      .catch(function (error) {
        state.me = null; // show the guest's view, with why
        if (error.code === "invalid_token") state.notice = t("session_expired");
        else if (error.code === "not_a_member") state.notice = t("not_member");
        else state.notice = t("error");
      })
      .then(function () {
        render(false);
      });
  }

  function redeem() {
    if (state.busy) return;
    state.busy = true;
    var reward = state.reward;
    var key = state.pendingKey || (state.pendingKey = newKey()); // a retry after a failure reuses it
    render(false);
    request("POST", "me/redemptions", { reward_id: reward.id }, { "Idempotency-Key": key })
      .then(function (redemption) {
        state.pendingKey = null;
        state.redemption = redemption;
        state.view = "code";
        state.notice = "";
        if (state.me) {
          state.me.member.available = redemption.balance.available;
          state.me.member.pending = redemption.balance.pending;
        }
        live.textContent = t("your_code");
        return loadMe().then(function () {
          state.view = "code";
        });
      })
      .catch(function (error) {
        if (error.status !== 503 && error.status !== 429) state.pendingKey = null;
        state.notice = error.message || t("error");
        state.view = "home";
      })
      .then(function () {
        state.busy = false;
        render(true);
      });
  }

  function start() {
    document.body.appendChild(host);
    render(false);
    request("GET", "config")
      .then(function (config) {
        state.config = config;
        return loadMe();
      })
      .catch(function () {
        state.notice = t("error");
        render(false);
      });
  }

  window.LoyaltyWidget = {
    version: "1",
    setToken: function (token) {
      state.token = token || null;
      return loadMe();
    },
    open: function () {
      setOpen(true);
    },
    close: function () {
      setOpen(false);
    },
    refresh: function () {
      return loadMe();
    },
  };

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
