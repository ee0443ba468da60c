/* U盘数据: files over the upload's limit are named before anything is sent (the server refuses them too). */
(function () {
  "use strict";
  var form = document.getElementById("usb-form");
  if (!form) { return; }
  var input = document.getElementById("usb-files");
  var notice = document.getElementById("usb-too-large");
  form.addEventListener("submit", function (event) {
    var max = parseInt(form.getAttribute("data-max-bytes"), 10);
    var total = 0;
    for (var i = 0; i < input.files.length; i++) { total += input.files[i].size; }
    if (max && total > max) {
      event.preventDefault();
      notice.textContent = "所选文件合计 " + (total / 1048576).toFixed(1) + " MB，一次最多 " +
        form.getAttribute("data-max-label") + "：请分几次导入。/ The files are too large for one upload.";
      notice.hidden = false;
    } else {
      notice.hidden = true;
    }
  });
})();
