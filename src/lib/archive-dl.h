/* libarchive, loaded on first use (dlopen), like libsubid in idmap.c.
 *
 * Only import, load and save read or write tarballs, but libarchive brings
 * libxml2, ICU and libstdc++ with it: linked normally, every ghostbox
 * process (the CLI, each monitor) paid ~1.6 ms of dynamic linking for them
 * at start-up. Code that uses libarchive calls gb_archive_load() once at its
 * entry point and then goes through gb_ar.<function>. */
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include "error.h"

/* Every libarchive function the library calls; a new call site adds its
 * function here (the compiler says so otherwise). */
#define GB_ARCHIVE_SYMBOLS(X)                    \
        X(archive_entry_filetype)                \
        X(archive_entry_free)                    \
        X(archive_entry_gid)                     \
        X(archive_entry_hardlink)                \
        X(archive_entry_mtime)                   \
        X(archive_entry_mtime_nsec)              \
        X(archive_entry_new)                     \
        X(archive_entry_pathname)                \
        X(archive_entry_perm)                    \
        X(archive_entry_rdevmajor)               \
        X(archive_entry_rdevminor)               \
        X(archive_entry_set_filetype)            \
        X(archive_entry_set_gid)                 \
        X(archive_entry_set_hardlink)            \
        X(archive_entry_set_mtime)               \
        X(archive_entry_set_pathname)            \
        X(archive_entry_set_perm)                \
        X(archive_entry_set_rdevmajor)           \
        X(archive_entry_set_rdevminor)           \
        X(archive_entry_set_size)                \
        X(archive_entry_set_symlink)             \
        X(archive_entry_set_uid)                 \
        X(archive_entry_size)                    \
        X(archive_entry_size_is_set)             \
        X(archive_entry_symlink)                 \
        X(archive_entry_uid)                     \
        X(archive_entry_xattr_add_entry)         \
        X(archive_entry_xattr_next)              \
        X(archive_entry_xattr_reset)             \
        X(archive_errno)                         \
        X(archive_error_string)                  \
        X(archive_filter_code)                   \
        X(archive_read_data)                     \
        X(archive_read_data_block)               \
        X(archive_read_free)                     \
        X(archive_read_new)                      \
        X(archive_read_next_header)              \
        X(archive_read_open)                     \
        X(archive_read_support_filter_all)       \
        X(archive_read_support_filter_gzip)      \
        X(archive_read_support_filter_zstd)      \
        X(archive_read_support_format_raw)       \
        X(archive_read_support_format_tar)       \
        X(archive_set_error)                     \
        X(archive_write_close)                   \
        X(archive_write_data)                    \
        X(archive_write_free)                    \
        X(archive_write_header)                  \
        X(archive_write_new)                     \
        X(archive_write_open_fd)                 \
        X(archive_write_set_bytes_in_last_block) \
        X(archive_write_set_format_pax_restricted)

struct gb_archive_api {
#define GB_AR_FIELD(f) __typeof__(f) *f;
        GB_ARCHIVE_SYMBOLS(GB_AR_FIELD)
#undef GB_AR_FIELD
};

extern struct gb_archive_api gb_ar;

/* Load libarchive.so.13 and resolve the table above; 0 or -errno with a
 * message saying which package to install. Cheap after the first call. */
int gb_archive_load(struct gb_error *err);
