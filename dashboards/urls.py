"""The home pages (public, operator, ANS) and the pages that gather one DRIMbox's data from every app."""
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("ans/", views.ans_home, name="ans_home"),
    path("ans/drimbox/<int:pk>/", views.ans_drimbox, name="ans_drimbox"),
    path("drimbox/<int:pk>/meteo/", views.drimbox_weather, name="drimbox_weather"),
]
