// sopdesk: shows the support form on a page of the business's own website.
//
//   <script src="https://help.example.com/support/embed.js" async></script>
//
// The frame goes where the script tag is. Optional attributes on the tag:
//   data-type="return"          preselect a request type (as /support?type=return)
//   data-title="Contact us"     the frame's accessible name
// The website's origin must be listed in SOPDESK_SUPPORT_EMBED_ORIGINS, else the
// browser refuses to show the frame.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) {
    return;
  }
  var origin = new URL(script.src).origin;
  var address = new URL("/support/embed", origin);
  var type = script.getAttribute("data-type");
  if (type) {
    address.searchParams.set("type", type);
  }
  var frame = document.createElement("iframe");
  frame.src = address.href;
  frame.title = script.getAttribute("data-title") || "Contact form";
  frame.setAttribute("data-sopdesk", "support-form");
  frame.style.cssText = "display:block;width:100%;min-height:32rem;border:0;";
  script.parentNode.insertBefore(frame, script.nextSibling);

  var first = true;
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.origin !== origin || event.source !== frame.contentWindow) {
      return;
    }
    if (!data || data.sopdesk !== "support-form") {
      return;
    }
    var height = Number(data.height);
    if (!(height > 0 && height < 100000)) {
      return;
    }
    frame.style.minHeight = "0";
    frame.style.height = height + "px";
    // After the form is sent the frame shows a new page: bring its top into view.
    if (data.loaded === true && !first && frame.getBoundingClientRect().top < 0) {
      frame.scrollIntoView({ block: "start" });
    }
    if (data.loaded === true) {
      first = false;
    }
  });
})();
