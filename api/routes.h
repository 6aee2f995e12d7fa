/* The route table (routes.c) registered on the ulfius instance. */
#pragma once

#include "app.h"

/* Adds every route and the fallback (404/405/CORS preflight). 0 or -1. */
int routes_register(struct _u_instance *inst, App *app);
