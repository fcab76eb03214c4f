"""Folium map builders: plain data and URLs in, map elements out."""
