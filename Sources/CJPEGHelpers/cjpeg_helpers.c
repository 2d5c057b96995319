#include "cjpeg_helpers.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

// Refuse images whose decoded size exceeds 2 GiB (decompression bombs), like ImageIO's PNG path.
#define CJPEG_MAX_BYTES ((size_t)1 << 31)

typedef struct {
    struct jpeg_error_mgr base;   // must be first: libjpeg hands us a jpeg_error_mgr*
    jmp_buf jump;
    int truncated;
} helper_error_mgr;

// Fatal error: keep libjpeg's message and jump back into cjpeg_decode.
static void helper_error_exit(j_common_ptr cinfo) {
    helper_error_mgr *err = (helper_error_mgr *)cinfo->err;
    longjmp(err->jump, 1);
}

// Warnings (level -1) are ignored as PIL ignores them, except premature end of data, which PIL
// reports as a truncated image. Trace messages (level >= 0) are dropped.
static void helper_emit_message(j_common_ptr cinfo, int msg_level) {
    helper_error_mgr *err = (helper_error_mgr *)cinfo->err;
    if (msg_level < 0) {
        if (err->base.msg_code == JWRN_JPEG_EOF) err->truncated = 1;
        err->base.num_warnings++;
    }
}

static void helper_output_message(j_common_ptr cinfo) { (void)cinfo; }

int cjpeg_decode(const unsigned char *data, size_t size, cjpeg_result *out) {
    struct jpeg_decompress_struct cinfo;
    helper_error_mgr err;
    unsigned char *volatile pixels = NULL;

    memset(out, 0, sizeof(*out));
    memset(&cinfo, 0, sizeof(cinfo));
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = helper_error_exit;
    err.base.emit_message = helper_emit_message;
    err.base.output_message = helper_output_message;
    err.truncated = 0;

    if (setjmp(err.jump)) {
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, out->message);
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        out->pixels = NULL;
        return CJPEG_CORRUPT;
    }

    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo.out_color_space = JCS_GRAYSCALE;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo.out_color_space = JCS_RGB;
        break;
    default:
        snprintf(out->message, sizeof(out->message),
                 "JPEG colour space %d (CMYK/YCCK or unknown) is not supported; convert it to RGB",
                 (int)cinfo.jpeg_color_space);
        jpeg_destroy_decompress(&cinfo);
        return CJPEG_UNSUPPORTED;
    }
    out->progressive = jpeg_has_multiple_scans(&cinfo) ? 1 : 0;

    jpeg_start_decompress(&cinfo);
    const size_t width = cinfo.output_width, height = cinfo.output_height;
    const size_t channels = (size_t)cinfo.output_components;
    const size_t stride = width * channels;
    if (height != 0 && stride > CJPEG_MAX_BYTES / height) {
        snprintf(out->message, sizeof(out->message), "image too large (%zux%zu)", width, height);
        jpeg_destroy_decompress(&cinfo);
        return CJPEG_NO_MEMORY;
    }
    pixels = (unsigned char *)malloc(stride * height > 0 ? stride * height : 1);
    if (pixels == NULL) {
        snprintf(out->message, sizeof(out->message), "out of memory for %zux%zu image", width, height);
        jpeg_destroy_decompress(&cinfo);
        return CJPEG_NO_MEMORY;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);

    if (err.truncated) {
        snprintf(out->message, sizeof(out->message), "data ends before the end of the image (truncated file)");
        free(pixels);
        return CJPEG_TRUNCATED;
    }
    out->width = (int)width;
    out->height = (int)height;
    out->channels = (int)channels;
    out->pixels = pixels;
    return CJPEG_OK;
}

void cjpeg_free(void *pixels) { free(pixels); }
