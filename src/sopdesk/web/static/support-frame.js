// sopdesk: the support form inside a frame on the business's website
// (/support/embed). It tells the page around it how tall the form is, so that the
// frame fits it without a scroll bar of its own. Only a height is sent: nothing the
// customer typed leaves the frame.
(function () {
  "use strict";
  if (window.parent === window) {
    return;
  }
  var sent = 0;

  function send(loaded) {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === sent && !loaded) {
      return;
    }
    sent = height;
    window.parent.postMessage(
      { sopdesk: "support-form", height: height, loaded: loaded },
      "*"
    );
  }

  send(true);
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(function () {
      send(false);
    }).observe(document.documentElement);
  } else {
    window.addEventListener("resize", function () {
      send(false);
    });
  }
})();
