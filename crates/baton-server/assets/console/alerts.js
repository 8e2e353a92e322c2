// How a new offer (or a conversation a supervisor gives the agent) gets their attention: a
// short two-tone beep (WebAudio) always, a desktop notification only when the console is not
// in front (hidden tab or another window focused: in front, the offer already opens on
// screen), and the count of waiting offers in the tab's title.

let audio = null;

/** Called from a click (sign-in): browsers allow sound and the permission prompt only then. */
export function unlock() {
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
  } catch {
    audio = null;
  }
  if ("Notification" in window && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
}

export function beep() {
  if (!audio) return;
  const now = audio.currentTime;
  for (const [offset, frequency] of [[0, 880], [0.16, 1320]]) {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, now + offset);
    gain.gain.exponentialRampToValueAtTime(0.2, now + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.14);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(now + offset);
    oscillator.stop(now + offset + 0.15);
  }
}

/** A desktop notification; clicking it brings the console forward on the offer. */
export function notify(title, body, onClick) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  if (document.visibilityState === "visible" && document.hasFocus()) return;
  try {
    const notification = new Notification(title, { body, tag: "baton-offer", icon: "/console/icon.svg" });
    notification.onclick = () => {
      window.focus();
      onClick();
      notification.close();
    };
  } catch {
    // Some platforms only allow notifications from a service worker; the beep still plays.
  }
}

/** "(2) Baton console" while offers wait. */
export function titleCount(count) {
  document.title = count > 0 ? `(${count}) Baton console` : "Baton console";
}
