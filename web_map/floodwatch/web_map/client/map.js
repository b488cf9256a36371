/* floodwatch public map: language switch, ages, popups' freshness, legend and locate-me.
   Expects FW = {map, wards, strings, region, now} set just before this script. Ages count from
   the snapshot's time (FW.now) plus the time the page has been open, so a replay reads right. */
(function (FW) {
  "use strict";
  var map = FW.map, root = document.documentElement, loaded = Date.now();

  function lang() { return root.lang === "en" ? "en" : "vi"; }
  function say(key, values) {
    var text = FW.strings[lang()][key];
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(values[k]); });
    return text;
  }

  function ageText(iso) {
    var now = Date.parse(FW.now) + (Date.now() - loaded);
    var minutes = Math.max(0, Math.floor((now - Date.parse(iso)) / 60000));
    if (minutes < 2) return say("just_now");
    if (minutes < 120) return say("min_ago", {n: minutes});
    if (minutes < 2880) return say("h_ago", {n: Math.floor(minutes / 60)});
    return say("d_ago", {n: Math.floor(minutes / 1440)});
  }
  function renderAges() {
    document.querySelectorAll(".fw-age[data-t]").forEach(function (el) {
      el.textContent = "(" + ageText(el.getAttribute("data-t")) + ")";
    });
  }

  /* the banner and footer wrap differently by width and language: keep the controls clear */
  function fitChrome() {
    root.style.setProperty("--fw-banner-h", document.getElementById("fw-banner").offsetHeight + "px");
    root.style.setProperty("--fw-footer-h", document.getElementById("fw-footer").offsetHeight + "px");
  }
  window.addEventListener("resize", fitChrome);

  function setLang(l) {
    root.lang = l;
    try { window.localStorage.setItem("fw-lang", l); } catch (e) { /* private mode */ }
    renderAges();
    fitChrome();
  }
  document.getElementById("fw-lang").addEventListener("click", function () {
    setLang(lang() === "vi" ? "en" : "vi");
  });

  function control(id, position) {
    var Ctl = L.Control.extend({
      options: {position: position},
      onAdd: function () {
        var el = document.getElementById(id);
        L.DomEvent.disableClickPropagation(el);
        L.DomEvent.disableScrollPropagation(el);
        return el;
      }
    });
    new Ctl().addTo(map);
  }
  control("fw-locate", "topleft");
  control("fw-legend", "bottomleft");
  if (window.innerWidth > 700) document.getElementById("fw-legend").open = true;

  var box = document.getElementById("fw-message"), boxText = document.getElementById("fw-message-text");
  function message(text) { boxText.textContent = text; box.hidden = false; }
  document.getElementById("fw-message-close").addEventListener("click", function () { box.hidden = true; });

  /* point in polygon, even-odd over every ring (holes included), GeoJSON lon/lat */
  function inRing(x, y, ring) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }
  function inGeometry(x, y, g) {
    var polygons = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
    return polygons.some(function (rings) {
      return rings.reduce(function (inside, ring) { return inRing(x, y, ring) ? !inside : inside; }, false);
    });
  }
  FW.wardAt = function (lon, lat) {
    var found = null;
    FW.wards.eachLayer(function (layer) {
      if (!found && inGeometry(lon, lat, layer.feature.geometry)) found = layer;
    });
    return found;
  };

  var here = null;
  function located(pos) {
    var lat = pos.coords.latitude, lon = pos.coords.longitude, latlng = L.latLng(lat, lon);
    if (here) map.removeLayer(here);
    here = L.circleMarker(latlng, {radius: 9, color: "#fff", weight: 3, fillColor: "#0d47a1",
                                   fillOpacity: 1}).addTo(map);
    var ward = FW.wardAt(lon, lat);
    if (!ward) {
      message(say("locate_outside", {region: FW.region}));
      map.setView(latlng, Math.max(map.getZoom(), 12));
      return;
    }
    var p = ward.feature.properties;
    message(say("locate_in", {ward: p.name, level: p.level_text[lang()]}));
    map.setView(latlng, Math.max(map.getZoom(), 13));
    ward.openPopup(latlng);
  }
  document.getElementById("fw-locate").addEventListener("click", function () {
    if (!navigator.geolocation) { message(say("locate_unsupported")); return; }
    message(say("locating"));
    navigator.geolocation.getCurrentPosition(located, function () { message(say("locate_failed")); },
      {enableHighAccuracy: true, timeout: 20000, maximumAge: 60000});
  });

  map.on("popupopen", function () { map.getContainer().classList.add("fw-popup-open"); renderAges(); });
  map.on("popupclose", function () { map.getContainer().classList.remove("fw-popup-open"); });
  map.attributionControl.setPrefix("Leaflet");
  renderAges();
  fitChrome();
  window.setInterval(renderAges, 60000);
})(window.FW);
