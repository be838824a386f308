#ifndef CXGBOOST_SHIM_H
#define CXGBOOST_SHIM_H
#include <xgboost/c_api.h>
#endif
