// Narrow the district <select> to the chosen province. Progressive enhancement:
// without this script every district stays selectable and the server rejects a
// district from another province. Markup: <select data-province-select> and
// <select data-district-select> whose <optgroup data-province="N"> hold the districts.
(function () {
  "use strict";

  function bind(provinceSelect, districtSelect) {
    const groups = Array.from(districtSelect.querySelectorAll("optgroup[data-province]"));
    function update() {
      const province = provinceSelect.value;
      groups.forEach(function (group) {
        const off = province !== "" && group.dataset.province !== province;
        group.hidden = off;  // some browsers ignore hidden options: disabling is what counts
        group.disabled = off;
      });
      const chosen = districtSelect.selectedOptions[0];
      if (chosen && chosen.parentElement.tagName === "OPTGROUP" && chosen.parentElement.disabled) {
        districtSelect.value = "";
      }
    }
    provinceSelect.addEventListener("change", update);
    update();
  }

  function init() {
    document.querySelectorAll("select[data-district-select]").forEach(function (districtSelect) {
      const scope = districtSelect.form || document;
      const provinceSelect = scope.querySelector("select[data-province-select]");
      if (provinceSelect) bind(provinceSelect, districtSelect);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
