// The chat: the user's sessions, a conversation whose answers stream in while each step of the
// turn appears on its timeline, attachments for the OCR agent, and approvals that complete live.

import { api, stream, tenantPath } from "../api.js";
import { confirmAction } from "../dialog.js";
import { openDocument } from "../documents.js";
import { h, replace, toast } from "../dom.js";
import { agentTitle, formatDate, formatNumber, language, t, tOr } from "../i18n.js";
import { renderReply } from "../render.js";
import { Timeline } from "../timeline.js";

// Letters with the marks Vietnamese writes: they tell an agent's Vietnamese examples from its English ones.
const VIETNAMESE = /[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]/i;

const MAX_ATTACHMENTS = 4;
const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;
const RECONNECT_MS = 3000;

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function plainText(text) {
  return String(text)
    .split("\n")
    .flatMap((line, index) => (index ? [h("br"), line] : [line]));
}

export async function chatView(root, [sessionId], context) {
  const { me, navigate } = context;
  const tenant = me.identity.tenant_id;
  if (!me.tenant_exists) {
    replace(
      root,
      h(
        "section",
        { class: "page" },
        h("h1", null, t("chat.noTenantTitle")),
        h("p", null, t("chat.noTenant", { tenant })),
        h("a", { href: "/admin", "data-nav": "" }, t("shell.admin")),
      ),
    );
    return null;
  }

  const life = new AbortController();
  let current = sessionId || null;
  let turn = null; // AbortController of this tab's own turn while it streams
  let watcher = null;
  const ownTurns = new Set();
  const pending = new Map(); // approval id -> assistant block waiting for it
  const resumed = new Map(); // turn id -> assistant block the resumed turn continues
  let attachments = [];

  // -- layout ------------------------------------------------------------------------------
  const sessionList = h("ul", { class: "session-list", id: "session-list" });
  const messages = h("div", { class: "messages", id: "messages", role: "log", "aria-label": t("chat.conversation") });
  const textarea = h("textarea", {
    id: "message",
    rows: 2,
    maxlength: 8000,
    placeholder: t("chat.placeholder"),
    "aria-describedby": "composer-hint",
  });
  const agentSelect = h("select", { id: "agent-select" }, h("option", { value: "" }, t("chat.autoAgent")));
  const fileInput = h("input", {
    type: "file",
    id: "attach",
    class: "visually-hidden",
    accept: "image/png,image/jpeg,image/webp,image/tiff,application/pdf",
    multiple: true,
  });
  const chips = h("ul", { class: "attachments", "aria-label": t("chat.attachments") });
  const sendButton = h("button", { type: "submit", class: "primary", id: "send" }, t("chat.send"));
  const status = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite", id: "chat-status" });
  const library = h("aside", { class: "library", id: "library", hidden: true, "aria-label": t("library.title") });
  const libraryToggle = h(
    "button",
    { type: "button", class: "ghost", id: "library-toggle", "aria-expanded": "false", "aria-controls": "library" },
    t("library.toggle"),
  );

  const form = h(
    "form",
    { class: "composer", id: "composer" },
    chips,
    h("label", { for: "message", class: "visually-hidden" }, t("chat.messageLabel")),
    textarea,
    h(
      "div",
      { class: "composer-bar" },
      h("label", { class: "inline" }, t("chat.agent"), " ", agentSelect),
      fileInput,
      h("label", { class: "button ghost", for: "attach", id: "attach-label" }, t("chat.attach")),
      sendButton,
    ),
    h("p", { class: "hint", id: "composer-hint" }, t("chat.keyboardHint")),
  );

  const sessionsPanel = h(
    "aside",
    { class: "sessions", "aria-label": t("chat.sessions") },
    h("button", { type: "button", class: "primary block", id: "new-chat", onClick: () => navigate("/chat") }, t("chat.newChat")),
    h("h2", { class: "panel-title" }, t("chat.sessions")),
    sessionList,
  );

  replace(
    root,
    h(
      "div",
      { class: "chat-layout" },
      sessionsPanel,
      h(
        "section",
        { class: "conversation", "aria-label": t("chat.conversation") },
        h("div", { class: "conversation-bar" }, h("h1", { class: "conversation-title", id: "conversation-title" }, t("chat.newChat")), libraryToggle),
        messages,
        form,
        status,
      ),
      library,
    ),
  );

  // -- sessions ----------------------------------------------------------------------------
  async function loadSessions() {
    let items = [];
    try {
      items = (await api("GET", tenantPath(tenant, "/sessions"), undefined, { signal: life.signal })).items;
    } catch (error) {
      if (life.signal.aborted) return;
      replace(sessionList, h("li", { class: "error" }, error.message));
      return;
    }
    if (!items.length) {
      replace(sessionList, h("li", { class: "muted empty" }, t("chat.noSessions")));
      return;
    }
    replace(
      sessionList,
      items.map((item) =>
        h(
          "li",
          { class: item.session_id === current ? "active" : null, "data-session": item.session_id },
          h(
            "a",
            { href: `/chat/${item.session_id}`, "data-nav": "", "aria-current": item.session_id === current ? "page" : null },
            h("span", { class: "session-title" }, item.title || t("chat.untitled")),
            h("span", { class: "muted small" }, `${formatDate(item.updated_at)} · ${t("chat.messages", { n: formatNumber(item.messages) })}`),
          ),
          h(
            "button",
            {
              type: "button",
              class: "icon",
              "data-delete": item.session_id,
              "aria-label": t("chat.deleteSession", { title: item.title || item.session_id }),
              onClick: () => removeSession(item),
            },
            // A glyph every font has: an emoji draws as an empty box where no emoji font is installed.
            "×",
          ),
        ),
      ),
    );
    if (current) {
      const active = items.find((item) => item.session_id === current);
      if (active) document.getElementById("conversation-title").textContent = active.title || t("chat.untitled");
    }
  }

  async function removeSession(item) {
    if (!(await confirmAction(t("chat.confirmDelete", { title: item.title || item.session_id }), t("common.delete")))) return;
    try {
      await api("DELETE", tenantPath(tenant, `/sessions/${item.session_id}`));
      toast(t("chat.deleted"));
      if (item.session_id === current) navigate("/chat");
      else loadSessions();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  // -- blocks ------------------------------------------------------------------------------
  function userBubble(text, files = []) {
    messages.append(
      h(
        "div",
        { class: "msg user" },
        h("div", { class: "bubble" }, plainText(text)),
        files.length ? h("ul", { class: "attachments sent" }, files.map((file) => h("li", null, `📎 ${file}`))) : null,
      ),
    );
  }

  function assistantBlock({ live = true, agent = null } = {}) {
    const timeline = new Timeline({ live, title: titleNamed });
    const agentLabel = h("span", { class: "agent-label" }, t("chat.assistant"));
    if (agent) nameAgent(agentLabel, agent);
    const answer = h("div", { class: "answer-slot", "aria-live": "polite", "aria-busy": live ? "true" : "false" });
    if (live) answer.append(h("span", { class: "typing", "aria-label": t("chat.thinking") }, h("i"), h("i"), h("i")));
    const element = h("div", { class: "msg assistant" }, agentLabel, timeline.element, answer);
    messages.append(element);
    return { element, timeline, answer, agentLabel, streamed: "" };
  }

  function onCitation(citation) {
    openDocument(tenant, citation.document_id, { snippet: citation.snippet });
  }

  function approvalCard(block, approvalId) {
    const card = h(
      "div",
      { class: "approval-card", role: "status", "aria-live": "polite", "data-approval": approvalId, "data-state": "pending" },
      h("strong", null, t("chat.approvalWaiting")),
      h("p", null, t("chat.approvalExplain")),
      h("code", { class: "muted" }, approvalId),
    );
    block.element.append(card);
    block.card = card;
    pending.set(approvalId, block);
  }

  function showFinal(block, reply) {
    block.timeline.add("final", reply);
    block.answer.setAttribute("aria-busy", "false");
    if (reply.agent) nameAgent(block.agentLabel, reply.agent);
    block.element.dataset.outcome = reply.outcome;
    replace(block.answer, renderReply(reply, { onCitation }));
    if (reply.outcome === "pending_approval" && reply.approval_id) approvalCard(block, reply.approval_id);
  }

  function showError(block, message) {
    block.answer.setAttribute("aria-busy", "false");
    block.element.dataset.outcome = "error";
    replace(block.answer, h("p", { class: "error", role: "alert" }, message));
  }

  function onTurnEvent(block, name, data) {
    if (name === "delta") {
      if (!block.streamed) replace(block.answer);
      block.streamed += data.text || "";
      block.answer.textContent = block.streamed;
    } else if (name === "final") {
      showFinal(block, data);
    } else if (name === "error") {
      block.timeline.add("error", data);
      showError(block, data.message || t("chat.failed"));
    } else {
      block.timeline.add(name, data);
    }
  }

  // -- a stored session --------------------------------------------------------------------
  async function openSession(id) {
    let history;
    try {
      history = await api("GET", tenantPath(tenant, `/sessions/${id}`), undefined, { signal: life.signal });
    } catch (error) {
      if (life.signal.aborted) return false;
      replace(messages, h("div", { class: "notice error", role: "alert" }, error.status === 404 ? t("chat.sessionNotFound") : error.message));
      current = null;
      return false;
    }
    replace(messages);
    pending.clear();
    const decided = new Set(history.messages.map((m) => m.meta?.approval_id).filter(Boolean));
    for (const message of history.messages) {
      if (message.role === "user") {
        userBubble(message.content);
        continue;
      }
      const block = assistantBlock({ live: false, agent: message.agent });
      block.element.dataset.outcome = message.meta?.outcome || "";
      block.timeline.element.replaceWith((block.timeline = Timeline.fromStored(message, { title: titleNamed })).element);
      replace(block.answer, renderReply({ answer: message.content, ...storedDrawing(message.meta) }, { onCitation }));
      if (message.meta?.decided_by) {
        block.element.prepend(h("p", { class: "decided" }, t("chat.resumedBy", { who: message.meta.decided_by })));
      }
      const waiting = message.meta?.pending_approval_id;
      if (waiting && !decided.has(waiting)) approvalCard(block, waiting);
    }
    messages.scrollTop = messages.scrollHeight;
    return true;
  }

  // -- watching the session live -----------------------------------------------------------
  function watch(id) {
    if (watcher) watcher.abort();
    const controller = new AbortController();
    watcher = controller;
    life.signal.addEventListener("abort", () => controller.abort(), { once: true });
    let gone = false;
    stream("GET", tenantPath(tenant, `/sessions/${id}/events`), undefined, onSessionEvent, { signal: controller.signal })
      .catch((error) => {
        // A session deleted meanwhile (404) or a sign-in that ended is not worth watching again.
        gone = error.status === 404 || error.status === 403 || error.status === 401;
      })
      .finally(() => {
        // The connection dropped (a restart, a proxy's timeout): watch again shortly.
        if (!gone && !controller.signal.aborted && watcher === controller) {
          setTimeout(() => watcher === controller && watch(id), RECONNECT_MS);
        }
      });
  }

  // Whatever happened before the subscription (an approval decided meanwhile) is in the transcript.
  async function reconcile() {
    if (!pending.size || turn) return;
    let history;
    try {
      history = await api("GET", tenantPath(tenant, `/sessions/${current}`), undefined, { signal: life.signal });
    } catch {
      return;
    }
    const decided = new Set(history.messages.map((m) => m.meta?.approval_id).filter(Boolean));
    if ([...pending.keys()].some((id) => decided.has(id))) await openSession(current);
  }

  async function onSessionEvent(name, envelope) {
    if (name === "ready") {
      await reconcile();
      return;
    }
    const { turn_id: turnId, channel, event, data } = envelope;
    if (channel === "chat") {
      if (event === "turn" && turn) ownTurns.add(turnId);
      if (ownTurns.has(turnId)) return;
      if (event === "final" && !turn) {
        await openSession(current);
        loadSessions();
      }
      return;
    }
    if (event === "turn") {
      const approvalId = data.meta?.approval_id;
      const block = pending.get(approvalId) || [...pending.values()].at(-1);
      if (!block) return;
      pending.delete(approvalId);
      if (block.card) {
        block.card.dataset.state = "decided";
        replace(block.card, h("strong", null, t("chat.approvalDecided", { who: data.meta?.decided_by || "?" })));
      }
      const continued = assistantBlock({ live: true, agent: block.agentLabel.dataset.agent });
      continued.element.classList.add("resumed");
      continued.element.prepend(h("p", { class: "decided" }, t("chat.resumedBy", { who: data.meta?.decided_by || "?" })));
      resumed.set(turnId, continued);
      status.textContent = t("chat.resuming");
      return;
    }
    const block = resumed.get(turnId);
    if (!block) return;
    onTurnEvent(block, event, data);
    if (event === "final") {
      resumed.delete(turnId);
      status.textContent = tOr(`outcome.${data.outcome}`, data.outcome);
      loadSessions();
    }
    messages.scrollTop = messages.scrollHeight;
  }

  // -- sending -----------------------------------------------------------------------------
  function drawChips() {
    replace(
      chips,
      attachments.map((file, index) =>
        h(
          "li",
          { class: "chip", "data-attachment": file.name },
          file.preview ? h("img", { src: file.preview, alt: "", width: 32, height: 32 }) : h("span", { "aria-hidden": "true" }, "📄"),
          h("span", null, `${file.name} (${formatNumber(file.size / 1024, { maximumFractionDigits: 0 })} KB)`),
          h(
            "button",
            {
              type: "button",
              class: "icon",
              "aria-label": t("chat.removeAttachment", { name: file.name }),
              onClick: () => {
                if (file.preview) URL.revokeObjectURL(file.preview);
                attachments.splice(index, 1);
                drawChips();
              },
            },
            "×",
          ),
        ),
      ),
    );
  }

  fileInput.addEventListener("change", async () => {
    for (const file of [...fileInput.files]) {
      if (attachments.length >= MAX_ATTACHMENTS) {
        toast(t("chat.tooManyAttachments", { n: MAX_ATTACHMENTS }), "error");
        break;
      }
      if (file.size > MAX_ATTACHMENT_BYTES) {
        toast(t("chat.attachmentTooLarge", { name: file.name }), "error");
        continue;
      }
      attachments.push({
        name: file.name,
        media_type: file.type || "application/octet-stream",
        size: file.size,
        content_base64: await readBase64(file),
        preview: file.type.startsWith("image/") ? URL.createObjectURL(file) : null,
      });
    }
    fileInput.value = "";
    drawChips();
    textarea.focus();
  });

  function setStreaming(active) {
    sendButton.textContent = active ? t("chat.stop") : t("chat.send");
    sendButton.classList.toggle("danger", active);
    sendButton.dataset.state = active ? "streaming" : "idle";
  }

  async function send(text) {
    messages.querySelector(".welcome")?.remove();
    const sent = attachments;
    attachments = [];
    drawChips();
    userBubble(text, sent.map((file) => file.name));
    const block = assistantBlock();
    messages.scrollTop = messages.scrollHeight;
    const body = {
      message: text,
      stream: true,
      language: language(),
      ...(current ? { session_id: current } : {}),
      ...(agentSelect.value ? { agent: agentSelect.value } : {}),
      ...(sent.length ? { attachments: sent.map(({ name, media_type, content_base64 }) => ({ name, media_type, content_base64 })) } : {}),
    };
    turn = new AbortController();
    setStreaming(true);
    status.textContent = t("chat.working");
    let finished = false;
    try {
      await stream(
        "POST",
        tenantPath(tenant, "/chat"),
        body,
        (name, data) => {
          if (name === "session") {
            if (!current) {
              current = data.session_id;
              history.replaceState(null, "", `/chat/${current}`);
            }
            return;
          }
          if (name === "final") finished = true;
          onTurnEvent(block, name, data);
          messages.scrollTop = messages.scrollHeight;
        },
        { signal: turn.signal },
      );
      status.textContent = finished ? t("chat.answered") : t("chat.failed");
      if (!finished) showError(block, t("chat.failed"));
    } catch (error) {
      if (turn.signal.aborted) {
        block.timeline.add("error", { message: t("chat.stopped") });
        showError(block, t("chat.stopped"));
      } else {
        showError(block, error.message);
      }
    } finally {
      for (const file of sent) if (file.preview) URL.revokeObjectURL(file.preview);
      turn = null;
      setStreaming(false);
      if (current && !watcher) watch(current);
      loadSessions();
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (turn) {
      turn.abort();
      return;
    }
    const text = textarea.value.trim();
    if (!text) {
      textarea.focus();
      return;
    }
    textarea.value = "";
    send(text);
    textarea.focus();
  });

  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "Escape" && turn) {
      turn.abort();
    }
  });

  // -- what the user may use ---------------------------------------------------------------
  let agents = [];
  async function loadAgents() {
    try {
      agents = (await api("GET", tenantPath(tenant, "/agents"), undefined, { signal: life.signal })).items;
    } catch {
      agents = [];
    }
    for (const agent of agents) agentSelect.append(h("option", { value: agent.name }, shown(agent).title));
  }

  // An agent as the reader's language shows it: its title and summary there, else its name and
  // description; the questions to suggest (the tenant's, else its examples) in that language first.
  function shown(agent) {
    const display = agent.display?.[language()];
    const questions = agent.suggestions?.length ? agent.suggestions : agent.examples;
    const own = questions.filter((question) => VIETNAMESE.test(question) === (language() === "vi"));
    return {
      title: agentTitle(agent),
      summary: display?.summary || agent.description,
      examples: [...own, ...questions.filter((question) => !own.includes(question))],
    };
  }

  // A stored answer is drawn again as it first was: outcome, citations, the tool's data and render.
  function storedDrawing(meta = {}) {
    return { outcome: meta.outcome, citations: meta.citations || [], data: meta.data || null, render: meta.render || null };
  }

  function titleNamed(name) {
    const agent = agents.find((candidate) => candidate.name === name);
    return agent ? agentTitle(agent) : name;
  }

  function nameAgent(label, name) {
    label.dataset.agent = name;
    label.textContent = titleNamed(name);
  }

  function welcome() {
    replace(
      messages,
      h(
        "div",
        { class: "welcome" },
        h("h2", null, t("chat.welcome")),
        h("p", { class: "muted" }, t("chat.welcomeHint")),
        h(
          "ul",
          { class: "agent-cards" },
          agents.map((agent) =>
            h(
              "li",
              { class: "agent-card" },
              h("strong", null, shown(agent).title),
              h("p", { class: "muted" }, shown(agent).summary),
              h(
                "div",
                { class: "examples" },
                shown(agent).examples.slice(0, 2).map((example) =>
                  h(
                    "button",
                    {
                      type: "button",
                      class: "chip example",
                      onClick: () => {
                        textarea.value = example;
                        textarea.focus();
                      },
                    },
                    example,
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async function drawLibrary() {
    replace(library, h("h2", { class: "panel-title" }, t("library.title")), h("p", { class: "muted" }, t("common.loading")));
    const [tools, documents] = await Promise.allSettled([
      api("GET", tenantPath(tenant, "/tools"), undefined, { signal: life.signal }),
      api("GET", tenantPath(tenant, "/documents"), undefined, { signal: life.signal }),
    ]);
    replace(
      library,
      h("h2", { class: "panel-title" }, t("library.tools")),
      tools.status === "fulfilled"
        ? h(
            "ul",
            { class: "library-list", id: "tool-list" },
            tools.value.items.map((tool) => {
              // What the tool does in the reader's words: its title there; the (English) description
              // only where the server gives no title in the reader's language.
              const title = tool.titles?.[language()];
              return h(
                "li",
                { "data-tool": tool.qualified_name },
                title ? h("strong", { class: "tool-title" }, title.charAt(0).toUpperCase() + title.slice(1)) : null,
                h("code", null, tool.qualified_name),
                tool.effect === "approve" ? h("span", { class: "badge warn" }, t("library.needsApproval")) : null,
                title && language() !== "en" ? null : h("p", { class: "muted small" }, tool.description),
              );
            }),
          )
        : h("p", { class: "error" }, tools.reason.message),
      h("h2", { class: "panel-title" }, t("library.documents")),
      documents.status === "fulfilled"
        ? h(
            "ul",
            { class: "library-list", id: "document-list" },
            documents.value.documents.map((document) =>
              h(
                "li",
                { "data-document": document.document_id },
                h("button", { type: "button", class: "link", onClick: () => openDocument(tenant, document.document_id) }, document.title),
                h("span", { class: "muted small" }, ` ${document.source_type}`),
              ),
            ),
          )
        : h("p", { class: "muted" }, documents.reason.message),
    );
  }

  libraryToggle.addEventListener("click", () => {
    const open = library.hidden;
    library.hidden = !open;
    libraryToggle.setAttribute("aria-expanded", String(open));
    if (open) drawLibrary();
  });

  await loadAgents();
  loadSessions();
  if (!current) welcome();
  else if (await openSession(current)) watch(current);
  textarea.focus();

  return () => {
    life.abort();
    if (turn) turn.abort();
    if (watcher) watcher.abort();
  };
}
