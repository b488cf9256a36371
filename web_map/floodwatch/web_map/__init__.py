"""The public map: a snapshot of what is true now (``state``), the page built from it by a pure
function (``mapbuild``), and the browser libraries it serves itself (``assets``)."""
