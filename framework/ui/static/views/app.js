// Placeholder: the app view is being built.
export function mount(el, ctx) {
  el.dataset.view = "app";
  el.innerHTML = "<h1>app</h1><p class='empty'>Coming.</p>";
  el.dataset.ready = "1";
  return { update() {}, unmount() {} };
}
