#include "CProcessSupport.h"
