// ?explain=true on the form page: the words that moved each score, marked in the tweet. Built from DOM
// nodes: the tweet and its words only ever reach the page as text nodes, never as HTML.

/** A contribution to the log-odds with its sign and two decimals: "+1.23", "-0.45". */
function formatContribution(value) {
  return `${value > 0 ? "+" : ""}${value.toFixed(2)}`;
}

/** The entries of ``words`` that are among the top ones, by index: each top entry claims one equal word. */
function topIndexes(explanation) {
  const chosen = new Set();
  for (const top of [...explanation.top_positive, ...explanation.top_negative]) {
    const index = explanation.words.findIndex(
      (w, i) => !chosen.has(i) && w.word === top.word && w.contribution === top.contribution,
    );
    if (index !== -1) {
      chosen.add(index);
    }
  }
  return chosen;
}

/** A <mark> holding ``word`` as text, its sign as a class (and a + or - after it, from the stylesheet). */
function mark(entry) {
  const sign = entry.contribution > 0 ? "pos" : "neg";
  const element = document.createElement("mark");
  element.className = `why ${sign}`;
  element.textContent = entry.word;
  element.dataset.contribution = String(entry.contribution);
  const direction = entry.contribution > 0 ? "raised" : "lowered";
  element.title = `${direction} the score: ${formatContribution(entry.contribution)} to the log-odds`;
  return element;
}

const WORD_CHAR = /[\p{L}\p{N}_]/u;

/** Where ``word`` stands alone in ``text`` from ``from`` on (not inside a longer word), or -1. */
function findWord(text, word, from) {
  for (let at = text.indexOf(word, from); at !== -1; at = text.indexOf(word, at + 1)) {
    const before = at > 0 && WORD_CHAR.test(word[0]) && WORD_CHAR.test(text[at - 1]);
    const end = at + word.length;
    const after = end < text.length && WORD_CHAR.test(word[word.length - 1]) && WORD_CHAR.test(text[end]);
    if (!before && !after) {
      return at;
    }
  }
  return -1;
}

/** The tweet ``text`` as nodes, its top words in <mark>s; the rest, and anything not found, as text. */
function markedText(text, explanation) {
  const tops = topIndexes(explanation);
  const nodes = [];
  let cursor = 0;
  explanation.words.forEach((entry, index) => {
    // Words come in the tweet's order, as written: each is looked for after the last one found.
    const at = entry.word ? findWord(text, entry.word, cursor) : -1;
    if (at === -1) {
      return;
    }
    const end = at + entry.word.length;
    if (tops.has(index)) {
      nodes.push(document.createTextNode(text.slice(cursor, at)), mark(entry));
    } else {
      nodes.push(document.createTextNode(text.slice(cursor, end)));
    }
    cursor = end;
  });
  nodes.push(document.createTextNode(text.slice(cursor)));
  return nodes;
}

/** One line of text naming the top words each way with their contributions: the marks in words. */
function summary(explanation) {
  const list = (entries) => entries.map((e) => `${e.word} ${formatContribution(e.contribution)}`).join(", ");
  const parts = [];
  if (explanation.top_positive.length) {
    parts.push(`raised by ${list(explanation.top_positive)}`);
  }
  if (explanation.top_negative.length) {
    parts.push(`lowered by ${list(explanation.top_negative)}`);
  }
  const line = document.createElement("span");
  line.className = "why-summary";
  line.textContent = parts.length ? parts.join("; ") : "no word moved the score";
  return line;
}

/** Fill the tweet ``cell`` with ``text``, its top words marked, and a line naming them. */
export function showExplained(cell, text, explanation) {
  const tweet = document.createElement("span");
  tweet.className = "tweet-text";
  tweet.append(...markedText(text, explanation));
  cell.replaceChildren(tweet, summary(explanation));
}
