/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Defaults of the model source: watts per logical CPU at 0% and 100% use
 * (see model.c for where they come from). [Model] MinWattsPerCPU= and
 * MaxWattsPerCPU= replace them. */
#define MODEL_DEFAULT_MIN_W 0.74
#define MODEL_DEFAULT_MAX_W 3.5
