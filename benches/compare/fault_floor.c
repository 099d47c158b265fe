/*
 * The kernel's floor for a goroutine on a fresh stack: one guard page
 * installed (MADV_GUARD_INSTALL) and the stack's top page touched, as gort
 * does for every stack it carves. No runtime code runs here.
 *
 *   gcc -O2 -pthread fault_floor.c -o fault_floor
 *   ./fault_floor 100000 1 32    # stacks, threads, stacks per batch
 *   ./fault_floor 100000 2 32
 *
 * On our 2-core VM (Nov 2026): 3.4-3.9 us per stack with one thread,
 * 1.7-2.1 us with two; Go's chain runs at 3.0-5.7 us per goroutine there.
 * It is chain's floor only when every goroutine takes a fresh stack: see
 * docs/design.md for the schedule that avoids it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <pthread.h>
#include <time.h>
#define STRIDE (68*1024)
#define MADV_GUARD_INSTALL 102
static char *base; static long n; static int nt; static int chunk;
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static void *w(void *a){ long id=(long)a;
  for(long c=id*chunk;c<n;c+=nt*chunk) for(long i=c;i<c+chunk&&i<n;i++){ madvise(base+i*STRIDE,4096,MADV_GUARD_INSTALL); base[(i+1)*STRIDE-64]=1; }
  return 0;}
int main(int argc,char**argv){ n=atol(argv[1]); nt=atoi(argv[2]); chunk=atoi(argv[3]);
 base=mmap(0,(n+1)*STRIDE,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE,-1,0);
 pthread_t t[8]; double s=now(); for(long i=0;i<nt;i++) pthread_create(&t[i],0,w,(void*)i); for(int i=0;i<nt;i++) pthread_join(t[i],0);
 printf("%d threads chunk %d: %.0f ns per stack\n",nt,chunk,(now()-s)*1e9/n);
}
