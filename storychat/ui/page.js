() => {
  // The chat follows each new answer unless the user has scrolled up, and keeps the start of the
  // latest question in view when the answer is taller than the chat. It stands in for Gradio's
  // autoscroll (off: gr.Chatbot(autoscroll=False)), which stops for good once one update grows the
  // chat by more than 100 px (an answer with its evidence), and which scrolls past the answer's start.
  // It also strips the HTML of the marked sentences from the messages' aria-labels.
  const NEAR_BOTTOM_PX = 100;
  let following = true;
  let scrolledTo = null;
  let wrap = null; // the chat's scrolled box; Gradio makes a new one when the chat empties or its tab renders
  let asked = 0;

  const questions = (box) => box.querySelectorAll('[data-testid=user]');

  function follow() {
    const all = questions(wrap);
    const last = all[all.length - 1];
    let top = wrap.scrollHeight - wrap.clientHeight;
    if (last) {
      const start = last.getBoundingClientRect().top - wrap.getBoundingClientRect().top + wrap.scrollTop - 8;
      top = Math.min(top, Math.max(start, 0));
    }
    if (Math.abs(wrap.scrollTop - top) > 1) {
      scrolledTo = top;
      wrap.scrollTop = top;
    }
  }

  function attach(box) {
    wrap = box;
    following = true;
    asked = questions(box).length;
    box.addEventListener('scroll', () => {
      if (scrolledTo !== null && Math.abs(box.scrollTop - scrolledTo) <= 2) return; // our own scroll
      scrolledTo = null;
      following = box.scrollTop + box.clientHeight >= box.scrollHeight - NEAR_BOTTOM_PX;
    });
    // A wheel or a swipe upwards stops the following at once, before a streamed token can scroll back down.
    box.addEventListener('wheel', (event) => { if (event.deltaY < 0) following = false; }, {passive: true});
    box.addEventListener('touchmove', () => { following = false; }, {passive: true});
  }

  function plainLabels(root) {
    for (const el of root.querySelectorAll('[aria-label*="<"]')) {
      el.setAttribute('aria-label', el.getAttribute('aria-label').replace(/<[^>]*>/g, ''));
    }
  }

  new MutationObserver(() => {
    const box = document.querySelector('#chat .bubble-wrap');
    if (!box) return;
    if (box !== wrap) attach(box);
    const now = questions(box).length;
    if (now !== asked) following = true; // a new question, or another chat opened
    asked = now;
    plainLabels(box);
    if (following) follow();
  }).observe(document.body, {childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ['aria-label']});

  // On a phone the chats list would cover the page: it starts closed there, a tap on its toggle away.
  const NARROW_PX = 768;
  function closeChatsWhenNarrow() {
    const sidebar = document.querySelector('#history');
    if (!sidebar) return setTimeout(closeChatsWhenNarrow, 300);
    if (window.innerWidth < NARROW_PX && sidebar.classList.contains('open')) {
      sidebar.querySelector('.toggle-button')?.click();
    }
  }

  closeChatsWhenNarrow();
}
