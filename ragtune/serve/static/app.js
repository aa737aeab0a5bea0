/* ragtune serve — browser page. Plain JS, no build step, no network assets.
 * All server text is inserted with textContent / text nodes, never innerHTML. */
(function () {
  "use strict";

  // ------------------------------------------------------------------ strings
  // Every interface string lives here. Values are strings with {name}
  // placeholders, or functions of the params object (for plurals).
  const STRINGS = {
    en: {
      "lang.name": "English",
      "lang.switch": "Switch language (中文)",
      "a11y.skip": "Skip to the question box",
      "nav.label": "Actions",
      "nav.docs": "Documents",
      "panel.label": "Documents",
      "status.loading": "Connecting…",
      "status.line": (p) => `${p.passages} passage${p.np === 1 ? "" : "s"} · ${p.documents} document${p.nd === 1 ? "" : "s"}`,
      "status.generator": "generator: {g}",
      "status.auth": "key required",
      "status.offline": "Server unreachable",
      "btn.new": "New conversation",
      "btn.key": "API key",
      "btn.send": "Send",
      "btn.stop": "Stop",
      "chat.label": "Conversation",
      "chat.empty": "Ask a question about your documents. Follow-up questions keep the context of this conversation.",
      "chat.you": "You",
      "chat.assistant": "Answer",
      "chat.searching": "Searching…",
      "chat.searchedAs": "searched as: {q}",
      "chat.stopped": "Stopped.",
      "chat.incomplete": "The answer stream ended before it finished.",
      "input.label": "Question",
      "input.placeholder": "Ask a question…",
      "input.hint": "Enter to send · Shift+Enter for a new line",
      "sources.summary": (p) => `Sources (${p.n})` + (p.c ? ` · ${p.c} cited` : ""),
      "sources.cited": "cited",
      "sources.none": "No sources were retrieved.",
      "cite.aria": "Source {n}: {title}",
      "passage.score": "score {s}",
      "passage.chunk": "chunk {c}",
      "passage.close": "Close passage",
      "passage.untitled": "(untitled)",
      "upload.title": "Add documents",
      "upload.drop": "Drop files here or click to choose",
      "upload.hint": "Several files at once are fine.",
      "job.title": (p) => `Upload · ${p.n} file${p.n === 1 ? "" : "s"}`,
      "job.uploading": "Uploading…",
      "job.queued": "Queued",
      "job.running": "Processing",
      "job.done": "Done",
      "job.failed": "Failed",
      "job.progress": "{done} / {total} files",
      "job.progressAria": "Upload progress",
      "job.added": (p) => `+${p.n} passage${p.n === 1 ? "" : "s"}`,
      "job.dismiss": "Dismiss",
      "job.lost": "Lost track of this upload: {msg}",
      "file.pending": "pending",
      "file.ok": "ok",
      "file.error": "error",
      "docs.title": "Documents",
      "docs.refresh": "Refresh",
      "docs.loading": "Loading…",
      "docs.empty": "No documents yet. Upload some files to get started.",
      "docs.summary": (p) => `${p.d} document${p.d === 1 ? "" : "s"} · ${p.p} passage${p.p === 1 ? "" : "s"}`,
      "docs.passages": (p) => `${p.n} passage${p.n === 1 ? "" : "s"}`,
      "docs.delete": "Delete",
      "docs.deleteAria": "Delete {name}",
      "docs.confirm": "Delete this document?",
      "docs.confirmYes": "Delete",
      "docs.cancel": "Cancel",
      "docs.deleted": (p) => `Deleted “${p.name}” (${p.n} passage${p.n === 1 ? "" : "s"} removed).`,
      "key.title": "API key",
      "key.text": "This server requires an API key.",
      "key.invalid": "That key was not accepted. Please try again.",
      "key.label": "Key",
      "key.save": "Save",
      "key.cancel": "Cancel",
      "key.clear": "Forget key",
      "key.forgotten": "The API key was removed from this browser.",
      "notice.dismiss": "Dismiss",
      "err.network": "Cannot reach the server.",
      "err.http": "Request failed (HTTP {status}).",
      "err.keyRequired": "An API key is required for this request.",
      "err.generic": "Something went wrong.",
      "graph.title": "Knowledge graph",
      "graph.entity": "Entity",
      "graph.placeholder": "An entity…",
      "graph.hops": "Hops",
      "graph.show": "Show",
      "graph.overview": (p) => `${p.e} entities · ${p.t} triples. The most connected:`,
      "graph.summary": (p) => `${p.n} triple${p.n === 1 ? "" : "s"} within ${p.h} hop${p.h === 1 ? "" : "s"}` + (p.more ? " (more not shown)" : ""),
      "graph.aria": "Neighbourhood of {name}",
    },
    zh: {
      "lang.name": "中文",
      "lang.switch": "切换语言 (English)",
      "a11y.skip": "跳到提问框",
      "nav.label": "操作",
      "nav.docs": "文档",
      "panel.label": "文档",
      "status.loading": "正在连接…",
      "status.line": "{passages} 个段落 · {documents} 个文档",
      "status.generator": "生成器：{g}",
      "status.auth": "需要密钥",
      "status.offline": "无法连接服务器",
      "btn.new": "新对话",
      "btn.key": "API 密钥",
      "btn.send": "发送",
      "btn.stop": "停止",
      "chat.label": "对话",
      "chat.empty": "就你的文档提问。追问会保留本次对话的上下文。",
      "chat.you": "你",
      "chat.assistant": "回答",
      "chat.searching": "检索中…",
      "chat.searchedAs": "检索问题：{q}",
      "chat.stopped": "已停止。",
      "chat.incomplete": "回答流在完成前中断了。",
      "input.label": "问题",
      "input.placeholder": "输入问题…",
      "input.hint": "Enter 发送 · Shift+Enter 换行",
      "sources.summary": (p) => `来源（${p.n}）` + (p.c ? ` · 引用 ${p.c} 个` : ""),
      "sources.cited": "已引用",
      "sources.none": "没有检索到来源。",
      "cite.aria": "来源 {n}：{title}",
      "passage.score": "得分 {s}",
      "passage.chunk": "片段 {c}",
      "passage.close": "收起段落",
      "passage.untitled": "（无标题）",
      "upload.title": "添加文档",
      "upload.drop": "把文件拖到这里，或点击选择",
      "upload.hint": "可以一次选择多个文件。",
      "job.title": "上传 · {n} 个文件",
      "job.uploading": "上传中…",
      "job.queued": "排队中",
      "job.running": "处理中",
      "job.done": "完成",
      "job.failed": "失败",
      "job.progress": "{done} / {total} 个文件",
      "job.progressAria": "上传进度",
      "job.added": "新增 {n} 个段落",
      "job.dismiss": "关闭",
      "job.lost": "无法获取上传状态：{msg}",
      "file.pending": "等待",
      "file.ok": "成功",
      "file.error": "出错",
      "docs.title": "文档",
      "docs.refresh": "刷新",
      "docs.loading": "加载中…",
      "docs.empty": "还没有文档。上传一些文件开始吧。",
      "docs.summary": "{d} 个文档 · {p} 个段落",
      "docs.passages": "{n} 个段落",
      "docs.delete": "删除",
      "docs.deleteAria": "删除 {name}",
      "docs.confirm": "确定删除这个文档？",
      "docs.confirmYes": "删除",
      "docs.cancel": "取消",
      "docs.deleted": "已删除「{name}」（移除 {n} 个段落）。",
      "key.title": "API 密钥",
      "key.text": "此服务器需要 API 密钥。",
      "key.invalid": "密钥无效，请重试。",
      "key.label": "密钥",
      "key.save": "保存",
      "key.cancel": "取消",
      "key.clear": "清除密钥",
      "key.forgotten": "已从此浏览器中清除 API 密钥。",
      "notice.dismiss": "关闭",
      "err.network": "无法连接服务器。",
      "err.http": "请求失败（HTTP {status}）。",
      "err.keyRequired": "此请求需要 API 密钥。",
      "err.generic": "出错了。",
      "graph.title": "知识图谱",
      "graph.entity": "实体",
      "graph.placeholder": "输入实体…",
      "graph.hops": "跳数",
      "graph.show": "显示",
      "graph.overview": "{e} 个实体 · {t} 个三元组。连接最多的：",
      "graph.summary": (p) => `${p.h} 跳内 ${p.n} 个三元组` + (p.more ? "（未全部显示）" : ""),
      "graph.aria": "{name} 的邻域",
    },
  };

  const LS_LANG = "ragtune.lang";
  const LS_KEY = "ragtune.apiKey";

  function storageGet(k) {
    try { return window.localStorage.getItem(k); } catch (_) { return null; }
  }
  function storageSet(k, v) {
    try {
      if (v === null || v === undefined || v === "") window.localStorage.removeItem(k);
      else window.localStorage.setItem(k, v);
    } catch (_) { /* private mode etc. */ }
  }

  let lang = storageGet(LS_LANG);
  if (lang !== "en" && lang !== "zh") {
    const nav = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
    lang = /^zh/i.test(nav) ? "zh" : "en";
  }

  function t(key, params) {
    const p = params || {};
    let v = STRINGS[lang][key];
    if (v === undefined) v = STRINGS.en[key];
    if (v === undefined) return key;
    if (typeof v === "function") return v(p);
    return v.replace(/\{(\w+)\}/g, (m, name) => (name in p ? String(p[name]) : m));
  }

  // Bind an element's text (or an attribute) to a dictionary key so that a
  // language switch re-renders it.
  function setT(el, key, params, what) {
    const slot = what || "text";
    const attr = { text: "i18n", aria: "i18nAria", title: "i18nTitle", ph: "i18nPh" }[slot];
    el.dataset[attr] = key;
    if (params) el.dataset.i18nArgs = JSON.stringify(params);
    else if (slot === "text") delete el.dataset.i18nArgs;
    renderT(el);
    return el;
  }

  function renderT(el) {
    let params;
    if (el.dataset.i18nArgs) {
      try { params = JSON.parse(el.dataset.i18nArgs); } catch (_) { params = undefined; }
    }
    if (el.dataset.i18n) el.textContent = t(el.dataset.i18n, params);
    if (el.dataset.i18nAria) el.setAttribute("aria-label", t(el.dataset.i18nAria, params));
    if (el.dataset.i18nTitle) el.setAttribute("title", t(el.dataset.i18nTitle, params));
    if (el.dataset.i18nPh) el.setAttribute("placeholder", t(el.dataset.i18nPh, params));
  }

  function applyI18n() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n],[data-i18n-aria],[data-i18n-title],[data-i18n-ph]").forEach(renderT);
    const other = lang === "zh" ? "en" : "zh";
    els.langBtn.textContent = STRINGS[other]["lang.name"];
    els.langBtn.setAttribute("lang", other === "zh" ? "zh-CN" : "en");
  }

  // ------------------------------------------------------------------ helpers
  function h(tag, attrs) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") el.className = v;
        else if (k === "text") el.textContent = v;
        else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
        else if (v === true) el.setAttribute(k, "");
        else el.setAttribute(k, String(v));
      }
    }
    for (let i = 2; i < arguments.length; i++) {
      const c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function fmtInt(n) {
    const x = Number(n);
    return Number.isFinite(x) ? x.toLocaleString(lang === "zh" ? "zh-CN" : "en") : "?";
  }

  function fmtScore(s) {
    const x = Number(s);
    if (s === null || s === undefined || s === "" || !Number.isFinite(x)) return s == null ? "" : String(s);
    return Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(3);
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

  // ------------------------------------------------------------------ elements
  const $ = (id) => document.getElementById(id);
  let els = {};

  // ------------------------------------------------------------------ notices
  let noticeTimer = null;
  function showNotice(msg, kind) {
    clearTimeout(noticeTimer);
    els.notice.className = "notice " + (kind === "info" ? "info" : "error");
    els.noticeText.textContent = msg;
    els.notice.hidden = false;
    if (kind === "info") noticeTimer = setTimeout(hideNotice, 6000);
  }
  function hideNotice() {
    clearTimeout(noticeTimer);
    els.notice.hidden = true;
    els.noticeText.textContent = "";
  }

  // ------------------------------------------------------------------ API
  class ApiError extends Error {
    constructor(message, status, type) {
      super(message);
      this.name = "ApiError";
      this.status = status || 0;
      this.type = type || "";
    }
  }

  // Turn any error body into one readable line.
  function messageFromBody(body, status) {
    if (body && typeof body === "object") {
      const e = body.error;
      if (e && typeof e === "object" && typeof e.message === "string" && e.message) return e.message;
      if (typeof e === "string" && e) return e;
      const d = body.detail; // FastAPI's default error shapes
      if (typeof d === "string" && d) return d;
      if (Array.isArray(d) && d.length) {
        return d.map((x) => {
          if (x && typeof x === "object") {
            const loc = Array.isArray(x.loc) ? x.loc.filter((p) => p !== "body").join(".") : "";
            return (loc ? loc + ": " : "") + (x.msg || "");
          }
          return String(x);
        }).join("; ");
      }
      if (typeof body.message === "string" && body.message) return body.message;
    }
    return t("err.http", { status });
  }

  async function errorFromResponse(res) {
    let body = null;
    try {
      const ct = res.headers.get("content-type") || "";
      if (ct.includes("json")) body = await res.json();
    } catch (_) { body = null; }
    const type = body && body.error && typeof body.error === "object" ? body.error.type : "";
    return new ApiError(messageFromBody(body, res.status), res.status, type);
  }

  function errorText(err) {
    if (!err) return t("err.generic");
    if (err instanceof ApiError) return err.message || t("err.generic");
    if (err.name === "TypeError") return t("err.network"); // fetch network failure
    return err.message || t("err.generic");
  }

  let apiKey = storageGet(LS_KEY) || "";

  // fetch() wrapper: adds the bearer key; on 401 asks for the key (one shared
  // prompt for all concurrent requests) and retries.
  async function api(path, opts) {
    const o = Object.assign({}, opts || {});
    for (let attempt = 0; ; attempt++) {
      const headers = new Headers((opts && opts.headers) || {});
      const usedKey = apiKey;
      if (usedKey) headers.set("Authorization", "Bearer " + usedKey);
      o.headers = headers;
      let res;
      try {
        res = await fetch(path, o);
      } catch (e) {
        if (e && e.name === "AbortError") throw e;
        throw new ApiError(t("err.network"), 0, "network");
      }
      if (res.status !== 401 || attempt >= 4) return res;
      try { await res.body?.cancel(); } catch (_) { /* ignore */ }
      if (apiKey && apiKey !== usedKey) continue; // key changed meanwhile: just retry
      const key = await askForKey(Boolean(usedKey));
      if (!key) throw new ApiError(t("err.keyRequired"), 401, "auth");
    }
  }

  async function apiJson(path, opts) {
    const res = await api(path, opts);
    if (!res.ok) throw await errorFromResponse(res);
    try {
      return await res.json();
    } catch (_) {
      throw new ApiError(t("err.generic"), res.status, "parse");
    }
  }

  // ------------------------------------------------------------------ key dialog
  let keyPromise = null;
  let keyResolve = null;

  function dialogOpen() {
    const d = els.keyDialog;
    if (typeof d.showModal === "function") {
      if (!d.open) d.showModal();
    } else {
      d.setAttribute("open", "");
      d.classList.add("fallback-open");
    }
    els.keyInput.value = "";
    els.keyClear.hidden = !apiKey;
    setTimeout(() => els.keyInput.focus(), 0);
  }
  function dialogClose() {
    const d = els.keyDialog;
    if (typeof d.close === "function" && d.open) d.close();
    d.removeAttribute("open");
    d.classList.remove("fallback-open");
  }

  function askForKey(invalid) {
    setT(els.keyMsg, invalid ? "key.invalid" : "key.text");
    els.keyMsg.classList.toggle("error-text", Boolean(invalid));
    if (!keyPromise) {
      keyPromise = new Promise((resolve) => { keyResolve = resolve; });
      dialogOpen();
    }
    return keyPromise;
  }

  function finishKey(value) {
    const resolve = keyResolve;
    keyPromise = null;
    keyResolve = null;
    dialogClose();
    if (resolve) resolve(value);
  }

  function setKey(k) {
    apiKey = k || "";
    storageSet(LS_KEY, apiKey);
    updateStatus();
  }

  // ------------------------------------------------------------------ health
  let health = null;
  async function loadHealth() {
    try {
      const res = await fetch("/v1/health", { headers: { Accept: "application/json" } });
      if (!res.ok) throw await errorFromResponse(res);
      health = await res.json();
    } catch (e) {
      health = { error: true };
    }
    updateStatus();
  }

  function updateStatus() {
    const s = els.status;
    s.replaceChildren();
    if (!health) {
      s.append(setT(h("span"), "status.loading"));
      return;
    }
    if (health.error) {
      s.append(setT(h("span", { class: "error-text" }), "status.offline"));
      return;
    }
    const np = Number(health.passages) || 0;
    const nd = Number(health.documents) || 0;
    s.append(setT(h("span"), "status.line", {
      passages: fmtInt(np), documents: fmtInt(nd), np, nd,
    }));
    if (health.generator) {
      s.append(h("span", { class: "sep", "aria-hidden": "true" }, " · "));
      s.append(setT(h("span"), "status.generator", { g: String(health.generator) }));
    }
    if (health.auth && !apiKey) {
      s.append(h("span", { class: "sep", "aria-hidden": "true" }, " · "));
      s.append(setT(h("span"), "status.auth"));
    }
    els.keyBtn.hidden = !(health.auth || apiKey);
  }

  // ------------------------------------------------------------------ SSE
  // Parse Server-Sent Events from a fetch() Response body. Yields {event, data}.
  async function* sseEvents(res) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder("utf-8");
    let buf = "";
    const sep = /\r\n\r\n|\n\n|\r\r/;
    function parseFrame(frame) {
      let event = "";
      const data = [];
      for (const line of frame.split(/\r\n|\r|\n/)) {
        if (!line || line.startsWith(":")) continue; // blank or comment (keep-alive)
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        let value = i < 0 ? "" : line.slice(i + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
      if (!data.length) return null;
      return { event: event || "message", data: data.join("\n") };
    }
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let m;
        while ((m = sep.exec(buf))) {
          const frame = buf.slice(0, m.index);
          buf = buf.slice(m.index + m[0].length);
          const ev = parseFrame(frame);
          if (ev) yield ev;
        }
      }
      buf += decoder.decode();
      if (buf.trim()) {
        const ev = parseFrame(buf);
        if (ev) yield ev;
      }
    } finally {
      try { await reader.cancel(); } catch (_) { /* ignore */ }
    }
  }

  function parseJson(s) {
    try { return JSON.parse(s); } catch (_) { return undefined; }
  }

  // ------------------------------------------------------------------ chat
  let history = [];
  let streaming = false;
  let currentAbort = null;
  let conversationId = 0;

  // On wide screens the message list scrolls by itself; on phones the page
  // scrolls and the composer sticks to the bottom of the viewport.
  function listScrolls() {
    const oy = getComputedStyle(els.messages).overflowY;
    return oy === "auto" || oy === "scroll";
  }
  function nearBottom() {
    const m = els.messages;
    if (listScrolls()) return m.scrollHeight - m.scrollTop - m.clientHeight < 120;
    return m.getBoundingClientRect().bottom - els.form.getBoundingClientRect().top < 160;
  }
  function scrollToEnd() {
    const m = els.messages;
    if (listScrolls()) {
      m.scrollTop = m.scrollHeight;
      return;
    }
    const over = m.getBoundingClientRect().bottom - els.form.getBoundingClientRect().top;
    if (over > 0) window.scrollBy(0, over + 8);
  }

  function setStreaming(on) {
    streaming = on;
    els.sendBtn.disabled = on;
    els.stopBtn.hidden = !on;
    els.form.setAttribute("aria-busy", on ? "true" : "false");
  }

  function sourceTitle(src) {
    if (!src) return t("passage.untitled");
    return String(src.title || src.id || "") || t("passage.untitled");
  }

  // Build the DOM for one question/answer turn. Returns a controller.
  function createTurn(question) {
    els.empty.hidden = true;
    const turnId = nextId("turn");
    const userMsg = h("div", { class: "msg user" },
      setT(h("div", { class: "msg-role" }), "chat.you"),
      h("div", { class: "bubble", text: question }));
    const standalone = h("p", { class: "standalone", hidden: true });
    userMsg.append(standalone);

    const answer = h("div", {
      class: "answer",
      id: turnId + "-answer",
      "aria-live": "polite",
      "aria-busy": "true",
      "aria-atomic": "false",
    });
    const thinking = setT(h("span", { class: "thinking" }), "chat.searching");
    answer.append(thinking);
    const textNode = document.createTextNode("");
    const passages = h("div", { class: "passages" });
    const extras = h("div", { class: "answer-extras" });
    const errLine = h("p", { class: "error-line", role: "alert", hidden: true });
    const asstMsg = h("div", { class: "msg assistant" },
      setT(h("div", { class: "msg-role" }), "chat.assistant"),
      answer, passages, extras, errLine);
    const article = h("article", { class: "turn", id: turnId }, userMsg, asstMsg);
    els.messages.append(article);
    scrollToEnd();

    let gotToken = false;
    const cards = [];      // passage cards by index
    const toggles = [];    // [index] -> list of buttons controlling that card

    function setExpanded(i, open) {
      const card = cards[i];
      if (!card) return;
      card.hidden = !open;
      (toggles[i] || []).forEach((b) => {
        b.setAttribute("aria-expanded", open ? "true" : "false");
        b.classList.toggle("active", open);
      });
      if (open) card.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
    function toggle(i) { if (cards[i]) setExpanded(i, cards[i].hidden); }
    function registerToggle(i, btn) {
      (toggles[i] = toggles[i] || []).push(btn);
      btn.addEventListener("click", () => toggle(i));
    }

    function buildPassages(sources, citedSet) {
      sources.forEach((src, i) => {
        const n = i + 1;
        const cardId = `${turnId}-p${n}`;
        const meta = [];
        const score = fmtScore(src && src.score);
        if (score) meta.push(setT(h("span"), "passage.score", { s: score }));
        if (src && src.chunk !== undefined && src.chunk !== null && src.chunk !== "") {
          meta.push(setT(h("span"), "passage.chunk", { c: String(src.chunk) }));
        }
        if (citedSet.has(n)) meta.push(setT(h("span", { class: "badge" }), "sources.cited"));
        const closeBtn = h("button", { type: "button", class: "icon-btn", text: "×" });
        setT(closeBtn, "passage.close", null, "aria");
        closeBtn.addEventListener("click", () => {
          setExpanded(i, false);
          const first = (toggles[i] || [])[0];
          if (first) first.focus();
        });
        const card = h("section", { class: "passage", id: cardId, hidden: true, "aria-label": `[${n}] ${sourceTitle(src)}` },
          h("header", { class: "passage-head" },
            h("span", { class: "num", text: String(n) }),
            h("strong", { class: "passage-title", text: sourceTitle(src) }),
            closeBtn),
          meta.length ? h("div", { class: "passage-meta" }, ...meta) : null,
          h("div", { class: "passage-text", text: src && src.text != null ? String(src.text) : "" }));
        cards[i] = card;
        passages.append(card);
      });
    }

    function renderWithCitations(text, sources) {
      const frag = document.createDocumentFragment();
      const re = /\[(\d{1,3}(?:\s*[,，]\s*\d{1,3})*)\]/g;
      let last = 0;
      let m;
      while ((m = re.exec(text))) {
        const nums = m[1].split(/\s*[,，]\s*/).map(Number);
        if (!nums.every((n) => n >= 1 && n <= sources.length)) continue;
        if (m.index > last) frag.append(document.createTextNode(text.slice(last, m.index)));
        nums.forEach((n) => {
          const i = n - 1;
          const chip = h("button", {
            type: "button",
            class: "cite",
            "aria-expanded": "false",
            "aria-controls": `${turnId}-p${n}`,
            text: String(n),
          });
          setT(chip, "cite.aria", { n, title: sourceTitle(sources[i]) }, "aria");
          chip.title = sourceTitle(sources[i]);
          registerToggle(i, chip);
          frag.append(chip);
        });
        last = m.index + m[0].length;
      }
      if (last < text.length) frag.append(document.createTextNode(text.slice(last)));
      return frag;
    }

    function buildSourceList(sources, citedSet) {
      if (!sources.length) {
        extras.append(setT(h("p", { class: "muted small" }), "sources.none"));
        return;
      }
      const summary = setT(h("summary"), "sources.summary", { n: sources.length, c: citedSet.size });
      const list = h("ol", { class: "source-list" });
      sources.forEach((src, i) => {
        const n = i + 1;
        const cited = citedSet.has(n);
        const btn = h("button", {
          type: "button",
          class: "source-item" + (cited ? " cited" : ""),
          "aria-expanded": "false",
          "aria-controls": `${turnId}-p${n}`,
        },
          h("span", { class: "num", text: String(n) }),
          h("span", { class: "source-title", text: sourceTitle(src) }),
          cited ? setT(h("span", { class: "badge" }), "sources.cited") : null,
          h("span", { class: "source-score", text: fmtScore(src && src.score) }));
        registerToggle(i, btn);
        list.append(h("li", null, btn));
      });
      extras.append(h("details", { class: "sources" }, summary, list));
    }

    return {
      id: turnId,
      element: article,
      appendToken(piece) {
        if (!piece) return;
        const stick = nearBottom();
        if (!gotToken) {
          gotToken = true;
          thinking.remove();
          answer.append(textNode);
          answer.classList.add("streaming");
        }
        textNode.appendData(piece);
        if (stick) scrollToEnd();
      },
      partialText() { return textNode.data; },
      setStandalone(q) {
        setT(standalone, "chat.searchedAs", { q });
        standalone.hidden = false;
      },
      finish(text, sources, citedList) {
        const stick = nearBottom();
        const srcs = Array.isArray(sources) ? sources : [];
        const citedSet = new Set();
        srcs.forEach((s, i) => { if (s && s.cited) citedSet.add(i + 1); });
        (Array.isArray(citedList) ? citedList : []).forEach((n) => {
          const k = Number(n);
          if (Number.isInteger(k) && k >= 1 && k <= srcs.length) citedSet.add(k);
        });
        thinking.remove();
        answer.classList.remove("streaming");
        answer.replaceChildren(renderWithCitations(String(text || ""), srcs));
        buildPassages(srcs, citedSet);
        buildSourceList(srcs, citedSet);
        answer.setAttribute("aria-busy", "false");
        if (stick) scrollToEnd();
      },
      fail(message) {
        thinking.remove();
        answer.classList.remove("streaming");
        if (!textNode.data) answer.hidden = true; // keep any partial answer visible
        answer.setAttribute("aria-busy", "false");
        errLine.textContent = message;
        errLine.hidden = false;
        asstMsg.classList.add("failed");
        scrollToEnd();
      },
    };
  }

  async function ask(question) {
    const myConversation = conversationId;
    const turn = createTurn(question);
    const controller = new AbortController();
    currentAbort = controller;
    setStreaming(true);
    const payload = {
      question,
      history: history.map((m) => ({ role: m.role, content: m.content })),
      stream: true,
    };
    try {
      const res = await api("/v1/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify(payload),
        signal: controller.signal,
      });
      if (!res.ok) throw await errorFromResponse(res);

      let final = null;
      const ct = res.headers.get("content-type") || "";
      if (ct.includes("application/json")) {
        // Server chose not to stream: treat the body as the final payload.
        final = await res.json();
      } else {
        for await (const ev of sseEvents(res)) {
          const data = parseJson(ev.data);
          const type = ev.event;
          if (type === "token" || (type === "message" && data && typeof data.text === "string" && !("sources" in data))) {
            const piece = data && typeof data === "object" ? data.text : (data === undefined ? ev.data : String(data));
            turn.appendToken(typeof piece === "string" ? piece : "");
          } else if (type === "sources" || (type === "message" && data && Array.isArray(data.sources))) {
            final = data || {};
            break; // the stream ends after `sources`
          } else if (type === "error" || (type === "message" && data && data.error)) {
            throw new ApiError(messageFromBody(data || {}, 500), 0, data && data.error && data.error.type);
          }
          // other events (e.g. "done", "ping") are ignored
        }
      }
      if (!final) throw new ApiError(t("chat.incomplete"), 0, "stream");

      const answerText = typeof final.answer === "string" ? final.answer : turn.partialText();
      turn.finish(answerText, final.sources, final.cited);
      const sq = typeof final.standalone_question === "string" ? final.standalone_question.trim() : "";
      if (sq && sq !== question.trim()) turn.setStandalone(sq);
      if (myConversation === conversationId) {
        history.push({ role: "user", content: question });
        history.push({ role: "assistant", content: answerText });
      }
    } catch (err) {
      if (err && err.name === "AbortError") turn.fail(t("chat.stopped"));
      else turn.fail(errorText(err));
    } finally {
      if (currentAbort === controller) {
        currentAbort = null;
        setStreaming(false);
      }
    }
  }

  function newConversation() {
    conversationId++;
    if (currentAbort) {
      currentAbort.abort();
      currentAbort = null;
    }
    setStreaming(false);
    history = [];
    els.messages.querySelectorAll(".turn").forEach((n) => n.remove());
    els.empty.hidden = false;
    els.question.value = "";
    autosize();
    els.question.focus();
  }

  function autosize() {
    const q = els.question;
    q.style.height = "auto";
    q.style.height = Math.min(q.scrollHeight + 2, 200) + "px";
  }

  function submitQuestion() {
    if (streaming) return;
    const q = els.question.value.trim();
    if (!q) return;
    els.question.value = "";
    autosize();
    ask(q);
  }

  // ------------------------------------------------------------------ uploads
  function fileStatusKey(s) {
    return s === "ok" ? "file.ok" : s === "error" ? "file.error" : "file.pending";
  }

  function createJobCard(files) {
    const title = setT(h("strong", { class: "job-title" }), "job.title", { n: files.length });
    const state = setT(h("span", { class: "job-state" }), "job.uploading");
    const dismiss = h("button", { type: "button", class: "icon-btn", hidden: true, text: "×" });
    setT(dismiss, "job.dismiss", null, "aria");
    const progress = h("progress", { class: "job-progress" });
    setT(progress, "job.progressAria", null, "aria");
    const counts = h("span", { class: "job-counts muted small" });
    const added = h("span", { class: "job-added small" });
    const message = h("p", { class: "job-message small", hidden: true });
    const fileList = h("ul", { class: "job-files" });
    const li = h("li", { class: "job", "aria-live": "polite" },
      h("div", { class: "job-head" }, title, state, dismiss),
      progress,
      h("div", { class: "job-line" }, counts, added),
      message,
      fileList);
    dismiss.addEventListener("click", () => li.remove());
    els.jobs.prepend(li);

    function renderFiles(list) {
      fileList.replaceChildren();
      list.forEach((f) => {
        const status = (f && f.status) || "pending";
        const row = h("li", { class: "job-file " + status },
          h("span", { class: "file-icon", "aria-hidden": "true", text: status === "ok" ? "✓" : status === "error" ? "✕" : "·" }),
          h("span", { class: "file-name", text: String((f && f.name) || "") }),
          setT(h("span", { class: "file-status" }), fileStatusKey(status)));
        if (status === "error" && f.error) row.append(h("span", { class: "file-error", text: String(f.error) }));
        fileList.append(row);
      });
    }
    renderFiles(files.map((f) => ({ name: f.name, status: "pending", error: null })));

    return {
      update(d) {
        const status = d.status || "queued";
        li.classList.remove("queued", "running", "done", "failed");
        li.classList.add(status);
        setT(state, "job." + (["queued", "running", "done", "failed"].includes(status) ? status : "queued"));
        const total = Number(d.total);
        const done = Number(d.done);
        if (Number.isFinite(total) && total > 0 && Number.isFinite(done)) {
          progress.max = total;
          progress.value = Math.min(done, total);
          setT(counts, "job.progress", { done, total });
        } else if (status === "done" || status === "failed") {
          progress.max = 1;
          progress.value = 1;
        }
        if (Number(d.passages_added) > 0) setT(added, "job.added", { n: Number(d.passages_added) });
        if (d.message) {
          message.textContent = String(d.message);
          message.classList.toggle("error-text", status === "failed");
          message.hidden = false;
        }
        if (Array.isArray(d.files) && d.files.length) renderFiles(d.files);
        if (status === "done" || status === "failed") dismiss.hidden = false;
      },
      fail(msg) {
        li.classList.remove("queued", "running", "done");
        li.classList.add("failed");
        setT(state, "job.failed");
        if (!progress.hasAttribute("value")) { progress.max = 1; progress.value = 0; }
        message.textContent = msg;
        message.classList.add("error-text");
        message.hidden = false;
        dismiss.hidden = false;
      },
    };
  }

  async function uploadFiles(fileList) {
    const files = Array.from(fileList || []);
    if (!files.length) return;
    const card = createJobCard(files);
    const fd = new FormData();
    files.forEach((f) => fd.append("files", f, f.name));
    let job;
    try {
      job = await apiJson("/v1/documents", { method: "POST", body: fd, headers: { Accept: "application/json" } });
    } catch (err) {
      card.fail(errorText(err));
      return;
    }
    card.update(job || {});
    if (!job || job.id === undefined || job.id === null) {
      refreshAfterChange();
      return;
    }
    let failures = 0;
    let status = job.status;
    while (status !== "done" && status !== "failed") {
      await sleep(700);
      try {
        const d = await apiJson("/v1/jobs/" + encodeURIComponent(job.id), { headers: { Accept: "application/json" } });
        failures = 0;
        card.update(d);
        status = d.status;
      } catch (err) {
        failures++;
        if ((err instanceof ApiError && err.status >= 400 && err.status < 500) || failures >= 6) {
          card.fail(t("job.lost", { msg: errorText(err) }));
          break;
        }
      }
    }
    refreshAfterChange();
  }

  function refreshAfterChange() {
    loadDocuments();
    loadHealth();
  }

  // ------------------------------------------------------------------ knowledge graph
  // GET /v1/graph: an entity's neighbourhood drawn as plain SVG (rings by hop), each triple listed with its source.
  const SVG_NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function clip(text, n) {
    const s = String(text || "");
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
  }

  async function loadGraph(entity) {
    const name = String(entity || "").trim();
    const query = name ? "?entity=" + encodeURIComponent(name) + "&hops=" + encodeURIComponent(els.graphHops.value) : "";
    try {
      const d = await apiJson("/v1/graph" + query, { headers: { Accept: "application/json" } });
      renderGraph(d || {});
    } catch (err) {
      els.graphView.replaceChildren();
      els.graphEdges.replaceChildren();
      els.graphMsg.textContent = errorText(err);
    }
  }

  function renderGraph(d) {
    const nodes = Array.isArray(d.nodes) ? d.nodes : [];
    const edges = Array.isArray(d.edges) ? d.edges : [];
    els.graphEdges.replaceChildren();
    els.graphView.replaceChildren();
    if (!d.entity) {
      const c = d.counts || {};
      setT(els.graphMsg, "graph.overview", { e: Number(c.entities) || 0, t: Number(c.triples) || 0 });
      const chips = h("div", { class: "graph-chips" });
      nodes.forEach((n) => chips.append(h("button", { type: "button", class: "btn small ghost", text: clip(n.label, 24),
        title: n.label, onclick: () => { els.graphEntity.value = n.label; loadGraph(n.label); } })));
      els.graphView.append(chips);
      return;
    }
    setT(els.graphMsg, "graph.summary", { n: edges.length, h: Number(d.hops) || 0, more: !!d.truncated });
    els.graphView.append(drawGraph(d, nodes, edges));
    edges.forEach((e) => els.graphEdges.append(h("li", { class: "graph-edge" },
      h("div", { class: "graph-triple" }, h("strong", { text: e.subject }), " —", h("span", { class: "graph-pred", text: e.predicate }),
        "→ ", h("strong", { text: e.object })),
      h("div", { class: "muted small", text: e.passage_id + (e.title ? " · " + e.title : "") }),
      h("div", { class: "graph-snippet small", text: e.snippet || "" }))));
  }

  function drawGraph(d, nodes, edges) {
    const W = 320, H = 300, cx = W / 2, cy = H / 2;
    const rings = new Map();
    nodes.forEach((n) => {
      const hop = Math.max(0, Number(n.hops) || 0);
      if (!rings.has(hop)) rings.set(hop, []);
      rings.get(hop).push(n);
    });
    const outer = Math.max(1, ...rings.keys());
    const at = new Map();
    const angleOf = new Map();
    const near = new Map(); // each node's neighbours, to seat it beside the one on the ring inside
    edges.forEach((e) => {
      if (!near.has(e.source)) near.set(e.source, []);
      if (!near.has(e.target)) near.set(e.target, []);
      near.get(e.source).push(e.target);
      near.get(e.target).push(e.source);
    });
    [...rings.keys()].sort((a, b) => a - b).forEach((hop) => {
      const radius = hop === 0 ? 0 : Math.pow(hop / outer, 0.6) * (Math.min(W, H) / 2 - 34);
      const parentAngle = (n) => {
        const inside = (near.get(n.id) || []).filter((m) => angleOf.has(m)).map((m) => angleOf.get(m));
        return inside.length ? inside[0] : 0;
      };
      const ring = rings.get(hop).slice().sort((a, b) => parentAngle(a) - parentAngle(b));
      const start = ring.length ? parentAngle(ring[0]) : 0;
      ring.forEach((n, i) => {
        const angle = hop === 0 ? 0 : (hop === 1 ? -Math.PI / 2 : start) + (2 * Math.PI * i) / ring.length;
        angleOf.set(n.id, angle);
        at.set(n.id, [cx + radius * Math.cos(angle), cy + radius * Math.sin(angle)]);
      });
    });
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "graph-svg", role: "img" });
    root.setAttribute("aria-label", t("graph.aria", { name: d.label || d.entity }));
    const lines = svg("g", { class: "graph-lines" });
    edges.forEach((e) => {
      const a = at.get(e.source), b = at.get(e.target);
      if (!a || !b) return;
      const line = svg("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1], class: "graph-line" });
      line.append(svg("title", {}, `${e.subject} —${e.predicate}→ ${e.object} (${e.passage_id})`));
      lines.append(line);
      if (edges.length <= 24) {
        lines.append(svg("text", { x: (a[0] + b[0]) / 2, y: (a[1] + b[1]) / 2 - 3, class: "graph-label-pred",
          "text-anchor": "middle" }, clip(e.predicate, 16)));
      }
    });
    root.append(lines);
    nodes.forEach((n) => {
      const p = at.get(n.id);
      const g = svg("g", { class: "graph-node" + (n.id === d.entity ? " center" : ""), tabindex: 0 });
      g.append(svg("circle", { cx: p[0], cy: p[1], r: n.id === d.entity ? 9 : 6 }));
      g.append(svg("text", { x: p[0], y: p[1] + 18, "text-anchor": "middle" }, clip(n.label, 18)));
      g.append(svg("title", {}, (n.aliases || [n.label]).join(" · ") + (n.type ? ` (${n.type})` : "")));
      const open = () => { els.graphEntity.value = n.label; loadGraph(n.label); };
      g.addEventListener("click", open);
      g.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
      root.append(g);
    });
    return root;
  }

  // ------------------------------------------------------------------ documents
  let docsLoading = false;
  let docsAgain = false;
  async function loadDocuments() {
    if (docsLoading) { docsAgain = true; return; }
    docsLoading = true;
    docsAgain = false;
    if (!els.docs.children.length) setT(els.docsSummary, "docs.loading");
    try {
      const d = await apiJson("/v1/documents", { headers: { Accept: "application/json" } });
      els.docsError.hidden = true;
      renderDocuments(d || {});
    } catch (err) {
      els.docsError.textContent = errorText(err);
      els.docsError.hidden = false;
      if (!els.docs.children.length) els.docsSummary.textContent = "";
    } finally {
      docsLoading = false;
      if (docsAgain) loadDocuments();
    }
  }

  function renderDocuments(d) {
    const docs = Array.isArray(d.documents) ? d.documents : [];
    const total = Number(d.passages);
    const sumPassages = Number.isFinite(total) ? total : docs.reduce((a, x) => a + (Number(x.passages) || 0), 0);
    els.docs.replaceChildren();
    if (!docs.length) {
      setT(els.docsSummary, "docs.empty");
      return;
    }
    setT(els.docsSummary, "docs.summary", { d: docs.length, p: sumPassages });
    docs.forEach((doc) => els.docs.append(documentRow(doc)));
  }

  function documentRow(doc) {
    const name = String(doc.name || doc.id || "");
    const title = String(doc.title || name || "");
    const main = h("div", { class: "doc-main" },
      h("span", { class: "doc-title", text: title, title: title }),
      h("span", { class: "doc-sub muted small" },
        title !== name && name ? h("span", { class: "doc-name", text: name }) : null,
        title !== name && name ? " · " : null,
        setT(h("span"), "docs.passages", { n: Number(doc.passages) || 0 })));
    const actions = h("div", { class: "doc-actions" });
    const row = h("li", { class: "doc" }, main, actions);

    let confirming = false;
    function showDelete() {
      confirming = false;
      const del = setT(h("button", { type: "button", class: "btn small ghost danger" }), "docs.delete");
      setT(del, "docs.deleteAria", { name: title }, "aria");
      del.addEventListener("click", showConfirm);
      actions.replaceChildren(del);
      return del;
    }
    function showConfirm() {
      confirming = true;
      const yes = setT(h("button", { type: "button", class: "btn small danger-solid" }), "docs.confirmYes");
      const no = setT(h("button", { type: "button", class: "btn small" }), "docs.cancel");
      const q = setT(h("span", { class: "confirm-text small" }), "docs.confirm");
      no.addEventListener("click", () => showDelete().focus());
      yes.addEventListener("click", () => doDelete(yes, no));
      actions.replaceChildren(q, yes, no);
      yes.focus();
    }
    actions.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && confirming && !row.classList.contains("busy")) showDelete().focus();
    });
    async function doDelete(yes, no) {
      yes.disabled = true;
      no.disabled = true;
      row.classList.add("busy");
      try {
        const r = await apiJson("/v1/documents/" + encodeURIComponent(doc.id), {
          method: "DELETE",
          headers: { Accept: "application/json" },
        });
        row.remove();
        showNotice(t("docs.deleted", { name: title, n: Number(r && r.passages_removed) || 0 }), "info");
      } catch (err) {
        row.classList.remove("busy");
        showNotice(errorText(err), "error");
        showDelete();
      }
      refreshAfterChange();
    }
    showDelete();
    return row;
  }

  // ------------------------------------------------------------------ init
  function init() {
    els = {
      status: $("status"),
      notice: $("notice"),
      noticeText: $("notice-text"),
      noticeClose: $("notice-close"),
      newChat: $("new-chat"),
      keyBtn: $("key-btn"),
      langBtn: $("lang-btn"),
      messages: $("messages"),
      empty: $("empty"),
      form: $("ask-form"),
      question: $("question"),
      sendBtn: $("send-btn"),
      stopBtn: $("stop-btn"),
      dropzone: $("dropzone"),
      fileInput: $("file-input"),
      jobs: $("jobs"),
      docs: $("docs"),
      docsSummary: $("docs-summary"),
      docsError: $("docs-error"),
      docsRefresh: $("docs-refresh"),
      graphForm: $("graph-form"),
      graphEntity: $("graph-entity"),
      graphHops: $("graph-hops"),
      graphMsg: $("graph-msg"),
      graphView: $("graph-view"),
      graphEdges: $("graph-edges"),
      keyDialog: $("key-dialog"),
      keyForm: $("key-form"),
      keyMsg: $("key-msg"),
      keyInput: $("key-input"),
      keyClear: $("key-clear"),
      keyCancel: $("key-cancel"),
    };

    applyI18n();
    updateStatus();

    els.langBtn.addEventListener("click", () => {
      lang = lang === "zh" ? "en" : "zh";
      storageSet(LS_LANG, lang);
      applyI18n();
      updateStatus();
    });
    els.noticeClose.addEventListener("click", hideNotice);
    els.newChat.addEventListener("click", newConversation);

    // composer
    els.form.addEventListener("submit", (e) => { e.preventDefault(); submitQuestion(); });
    els.question.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        submitQuestion();
      }
    });
    els.question.addEventListener("input", autosize);
    els.stopBtn.addEventListener("click", () => { if (currentAbort) currentAbort.abort(); });

    // key dialog
    els.keyForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const k = els.keyInput.value.trim();
      if (!k) { els.keyInput.focus(); return; }
      setKey(k);
      const manual = !keyResolve;
      finishKey(k);
      if (manual) loadDocuments();
    });
    els.keyCancel.addEventListener("click", () => finishKey(null));
    els.keyClear.addEventListener("click", () => {
      setKey("");
      finishKey(null);
      showNotice(t("key.forgotten"), "info");
    });
    els.keyDialog.addEventListener("cancel", (e) => { e.preventDefault(); finishKey(null); });
    els.keyBtn.addEventListener("click", () => {
      setT(els.keyMsg, "key.text");
      els.keyMsg.classList.remove("error-text");
      dialogOpen();
    });

    // uploads
    els.fileInput.addEventListener("change", () => {
      const files = Array.from(els.fileInput.files || []);
      els.fileInput.value = "";
      uploadFiles(files);
    });
    const dz = els.dropzone;
    ["dragenter", "dragover"].forEach((type) => dz.addEventListener(type, (e) => {
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
      dz.classList.add("dragging");
    }));
    dz.addEventListener("dragleave", (e) => {
      if (!e.relatedTarget || !dz.contains(e.relatedTarget)) dz.classList.remove("dragging");
    });
    dz.addEventListener("drop", (e) => {
      e.preventDefault();
      dz.classList.remove("dragging");
      if (e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files.length) uploadFiles(e.dataTransfer.files);
    });
    // A file dropped outside the drop zone must not make the browser navigate away.
    window.addEventListener("dragover", (e) => e.preventDefault());
    window.addEventListener("drop", (e) => { if (!dz.contains(e.target)) e.preventDefault(); });

    els.docsRefresh.addEventListener("click", () => { loadDocuments(); loadHealth(); });

    els.graphForm.addEventListener("submit", (e) => { e.preventDefault(); loadGraph(els.graphEntity.value); });

    loadHealth();
    loadDocuments();
    loadGraph("");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
