// Ask: a question answered from the chosen collection, streamed, with numbered sources.

import { collectionPath, request } from "./api.js";
import { $, guarded, h, shorten } from "./dom.js";
import { emit, state } from "./state.js";

const question = $("question");
const button = $("ask-button");
const answer = $("answer");
const answerText = $("answer-text");
const answerStatus = $("answer-status");
const sources = $("sources");

function showSources(list) {
  sources.replaceChildren(
    ...list.map((s, i) =>
      h(
        "li",
        {},
        h("span", { class: "num", text: `[${i + 1}]` }),
        h(
          "div",
          {},
          h("a", {
            href: `#documents/${encodeURIComponent(s.id)}`,
            text: s.id,
            onclick: (event) => {
              event.preventDefault();
              emit("open-document", s.id);
            },
          }),
          h("span", { class: "status", text: ` · ${s.score.toFixed(3)}` }),
          h("div", { class: "preview", text: shorten(s.text, 240) }),
        ),
      ),
    ),
  );
}

/** Feed Server-Sent Events from a response body to `handle`, one parsed event at a time. */
async function readEvents(response, handle) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (data) handle(JSON.parse(data));
    }
    if (done) return;
  }
}

async function ask(event) {
  event.preventDefault();
  if (!state.collection) throw new Error("Ask: choose a collection first");
  const text = question.value.trim();
  if (!text) throw new Error("Question: type a question first");
  const tokens = Math.max(1, Number.parseInt($("ask-tokens").value, 10) || 128);
  answerText.textContent = "";
  answerStatus.textContent = "Retrieving sources…";
  sources.replaceChildren();
  button.disabled = true;
  answer.setAttribute("aria-busy", "true");
  let finished = false;
  try {
    const response = await request("POST", collectionPath(state.collection, "ask"), {
      body: { question: text, k: 4, max_new_tokens: tokens, stream: true },
      accept: "text/event-stream",
    });
    await readEvents(response, (item) => {
      if (item.error) throw new Error(item.error.message || String(item.error));
      if (item.done) {
        answerText.textContent = item.answer;
        const ended = item.finish_reason === "length" ? "stopped at the token limit" : "done";
        answerStatus.textContent = `${ended} · ${item.model} · ${item.usage.completion_tokens} tokens`;
        answer.dataset.state = "done";
        finished = true;
      } else if (item.sources) {
        showSources(item.sources);
        answerStatus.textContent = "Answering…";
      } else if (item.text !== undefined) {
        answerText.textContent += item.text;
      }
    });
    if (!finished) throw new Error("Answer: the stream ended before the answer was complete");
  } catch (e) {
    answerStatus.textContent = "";
    answer.dataset.state = "failed";
    throw e;
  } finally {
    button.disabled = false;
    answer.removeAttribute("aria-busy");
  }
}

export function setupAsk() {
  $("ask-form").addEventListener("submit", (event) => {
    answer.dataset.state = "running";
    return guarded($("ask-error"), ask)(event);
  });
}
