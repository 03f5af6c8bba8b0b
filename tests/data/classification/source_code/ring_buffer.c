#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "ring_buffer.h"

#define IS_POW2(x) (((x) & ((x) - 1)) == 0)

struct ring_buffer {
    uint8_t *data;
    size_t capacity;
    size_t head;
    size_t tail;
};

struct ring_buffer *rb_new(size_t capacity)
{
    if (capacity == 0 || !IS_POW2(capacity)) {
        errno = EINVAL;
        return NULL;
    }
    struct ring_buffer *rb = calloc(1, sizeof(*rb));
    if (rb == NULL)
        return NULL;
    rb->data = malloc(capacity);
    if (rb->data == NULL) {
        free(rb);
        return NULL;
    }
    rb->capacity = capacity;
    return rb;
}

size_t rb_write(struct ring_buffer *rb, const uint8_t *src, size_t len)
{
    size_t free_space = rb->capacity - (rb->head - rb->tail);
    if (len > free_space)
        len = free_space;
    for (size_t i = 0; i < len; i++) {
        rb->data[(rb->head + i) & (rb->capacity - 1)] = src[i];
    }
    rb->head += len;
    return len;
}

void rb_free(struct ring_buffer *rb)
{
    if (rb != NULL) {
        free(rb->data);
        free(rb);
    }
}
