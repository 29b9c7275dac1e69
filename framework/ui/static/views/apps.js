// Placeholder: the apps view is being built.
export function mount(el, ctx) {
  el.dataset.view = "apps";
  el.innerHTML = "<h1>apps</h1><p class='empty'>Coming.</p>";
  el.dataset.ready = "1";
  return { update() {}, unmount() {} };
}
