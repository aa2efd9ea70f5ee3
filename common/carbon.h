/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The grid carbon intensity used when none is configured: the world average
 * of electricity generation in 2023 (Ember, Global Electricity Review 2024),
 * and where that figure comes from, short enough to follow every gCO2e
 * figure within an 80-column line. jouled's [Carbon] IntensityGramsPerKWh=
 * and Source= default to these, and joulectl falls back to them when the
 * database does not say. */
#define CARBON_DEFAULT_G_PER_KWH 480.0
#define CARBON_DEFAULT_SOURCE "Ember 2024 world average"
