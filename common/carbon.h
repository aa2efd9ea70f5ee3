/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The grid carbon intensity used when none is configured: the world average
 * of electricity generation in 2023, and where that figure comes from (shown
 * beside every gCO2e figure). jouled's [Carbon] IntensityGramsPerKWh= and
 * Source= default to these, and joulectl falls back to them when the
 * database does not say. */
#define CARBON_DEFAULT_G_PER_KWH 480.0
#define CARBON_DEFAULT_SOURCE "Ember, Global Electricity Review 2024: world average 2023"
