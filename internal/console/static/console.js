// Hallmark console: small progressive enhancements. The pages work without it.
"use strict";

// Times: show each <time class="local"> in the viewer's zone; the title keeps UTC for hover.
function localTimes() {
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  for (const el of document.querySelectorAll("time.local[datetime]")) {
    const d = new Date(el.getAttribute("datetime"));
    if (!isNaN(d)) el.textContent = fmt.format(d);
  }
}

function unb64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function sha256(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const buf = new Uint8Array(n);
  let off = 0;
  for (const p of parts) { buf.set(p, off); off += p.length; }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

// rootFromPath is RFC 9162 section 2.1.3.2: the root that leaf hash r at index of a tree of
// size leaves reaches along path, or null when the path has the wrong shape.
async function rootFromPath(index, size, r, path) {
  if (index >= size) return null;
  let fn = index, sn = size - 1;
  const one = new Uint8Array([1]);
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(one, p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      }
    } else {
      r = await sha256(one, r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

// checkProof hashes the event's leaf encoding, compares it with the proof's leaf hash, walks
// the audit path and compares the result with the signed checkpoint's root.
async function checkProof() {
  const el = document.getElementById("proof");
  const out = document.getElementById("proof-result");
  if (!el || !out) return;
  out.className = "";
  try {
    const index = Number(el.dataset.index), size = Number(el.dataset.size);
    const leaf = await sha256(new Uint8Array([0]), unb64(el.dataset.leaf));
    if (!equal(leaf, unb64(el.dataset.leafHash))) {
      out.textContent = "Does not verify: the event's leaf hash is not the one the log proves.";
      out.className = "bad";
      return;
    }
    const path = el.dataset.path ? el.dataset.path.split(" ").map(unb64) : [];
    const root = await rootFromPath(index, size, leaf, path);
    if (root && equal(root, unb64(el.dataset.root))) {
      out.textContent = "Verified in this browser: event " + (index + 1) + " is in the checkpoint's tree of " + size + " events.";
      out.className = "good";
    } else {
      out.textContent = "Does not verify: the audit path does not lead to the checkpoint's root.";
      out.className = "bad";
    }
  } catch (e) {
    out.textContent = "Does not verify: " + e.message;
    out.className = "bad";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes();
  // A continue page (sign-in hand-overs) goes on by itself; without script, its link does.
  const next = document.querySelector("a.continue[data-auto]");
  if (next) location.assign(next.href);
  const b = document.getElementById("verify");
  if (b) { b.addEventListener("click", checkProof); checkProof(); }
});
