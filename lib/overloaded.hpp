// Overloaded{lambdas...}: one callable from several lambdas, for std::visit. Visiting a
// variant with one lambda per alternative and no catch-all makes the compiler name an
// alternative a caller forgot.
#pragma once

namespace wslat {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace wslat
