#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "pt/common.h"

Test(common, strerror_names_project_and_errno_codes)
{
    cr_assert_str_eq(pt_strerror(PT_E_TRUNC), "capture file truncated inside a record");
    cr_assert_str_eq(pt_strerror(PT_E_BADARG), "bad argument");
    cr_assert_str_eq(pt_strerror(-ENOMEM), strerror(ENOMEM));
    cr_assert_str_eq(pt_strerror(0), "success");
}
