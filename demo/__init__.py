"""The development demo: a trust space loaded through every app's services, and loopback DRIMboxes for the
weather prober. The top layer: it may import every app; no app imports it."""
