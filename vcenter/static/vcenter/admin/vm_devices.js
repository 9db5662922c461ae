/* The VM page in the admin: read the VM's disks and network adapters live from vCenter through
 * the API (with the admin's session cookie) and show them as two small tables, so the page
 * itself never waits for vCenter. */
(function () {
  "use strict";

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "-" : String(text);
    row.appendChild(td);
  }

  function table(columns, items) {
    var tbl = document.createElement("table");
    var head = tbl.createTHead().insertRow();
    columns.forEach(function (column) {
      var th = document.createElement("th");
      th.textContent = column[0];
      head.appendChild(th);
    });
    var body = tbl.createTBody();
    items.forEach(function (item) {
      var row = body.insertRow();
      columns.forEach(function (column) { cell(row, item[column[1]]); });
    });
    return tbl;
  }

  function load(container, url, columns, empty) {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        container.textContent = "";
        if (!answer.ok) {
          var detail = (answer.body.data && answer.body.data.detail) || "";
          container.textContent = answer.body.msg + " (" + answer.body.code + ") " + detail;
          return;
        }
        var items = answer.body.data.results;
        if (!items.length) { container.textContent = empty; return; }
        container.appendChild(table(columns, items));
      })
      .catch(function (error) { container.textContent = String(error); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".vm-devices").forEach(function (node) {
      var disks = node.querySelector("[data-disks-url]");
      var nics = node.querySelector("[data-nics-url]");
      load(disks, disks.dataset.disksUrl + "?page_size=200", [
        ["Label", "label"], ["GB", "size_gb"], ["Type", "type"], ["Datastore", "datastore"],
        ["Controller", "controller_type"], ["Unit", "unit_number"], ["File", "file_name"]
      ], disks.dataset.empty);
      load(nics, nics.dataset.nicsUrl + "?page_size=200", [
        ["Label", "label"], ["MAC", "mac_address"], ["Type", "adapter_type"],
        ["Port group", "port_group"], ["Connected", "connected"]
      ], nics.dataset.empty);
    });
  });
})();
