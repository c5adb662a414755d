// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IVipnodePool} from "./IVipnodePool.sol";

/**
 * @title VipnodePool
 * @dev Pull-payment payout pool for vipnode hosts. See {IVipnodePool} for the roles and the
 * accounting invariant.
 *
 * Trust model (who can do what with the money):
 *
 * - A stolen *proposer* key (the coordinator's hot key) can propose a root paying the thief. That
 *   root cannot be claimed against before {rootDelay} (at least one hour on a real chain), during
 *   which the guardian revokes it; its total can never exceed {totalReceived}, nor go below the
 *   active total; it cannot replace a pending root, change the active one, pause, or touch any
 *   role. What the thief achieves: payouts delayed for as long as it keeps proposing junk that the
 *   guardian keeps revoking, until the owner calls {setProposer}. Nothing more.
 * - A stolen *guardian* key can revoke honest pending roots and pause: it blocks new roots and
 *   deposits. It cannot move a wei, cannot unpause, cannot change the active root, and claims against
 *   the active root keep working. The owner replaces it with {setGuardian}.
 * - A stolen *owner* key can appoint a new proposer and guardian and so, after one delay in plain
 *   view (a `ProposerSet` then a `RootProposed` event), get a root of its choosing activated; it
 *   cannot shorten the delay, which is fixed at deployment, nor exceed {totalReceived}. Keep it cold.
 *
 * Design decisions:
 *
 * - Only the active root is kept, plus at most one pending root. Each root commits to every
 *   payee's *cumulative* entitlement since the pool began, and `claimed[payee]` records the
 *   cumulative already paid, so the active root alone decides what anyone is still owed. Proposing
 *   costs the same whatever the number of payees.
 *
 * - A proposal while another root is pending is refused ({VipnodePoolRootPending}), not taken as a
 *   replacement: replacing would restart the delay, so a proposer posting every epoch with an epoch
 *   shorter than the delay would never get a root activated, and a stolen proposer key could keep
 *   pushing an honest pending root back. The coordinator proposes its latest root once the pending
 *   one is active; a proposal activates a pending root whose delay has passed.
 *
 * - Activation is lazy: a pending root whose delay has passed counts as active in every view, and
 *   the first claim that needs it (or {activateRoot}, or the next proposal, or {pause}) writes it in.
 *   The common claim proves against the stored root first, so the delay costs claims nothing; until
 *   a due root is written in, a proof against the previous root still pays (never more than that
 *   root's cumulative, within that root's total).
 *
 * - {pause} (owner or guardian) stops {proposeRoot}, {deposit} and activation, never {claim} against
 *   the active root. A pending root stays revocable while paused, so the brake for a suspected bad
 *   root is: pause, look, revoke. Only the owner lifts the pause.
 *
 * - Claims do not count what they paid in storage: the paid total is `totalReceived - balance`, read
 *   with SELFBALANCE (there is no `receive`, so every counted wei arrives through {deposit}). This
 *   saves the write of a running total on every claim. ETH forced in without {deposit} (selfdestruct,
 *   block rewards) is never counted as received; it only lowers {totalClaimed} by its amount.
 *
 * - Reentrancy guard in ordinary storage, not transient storage (EIP-1153), so the pool works on
 *   chains before Cancun. Its flag shares the slot of the totals a claim reads anyway, and it is
 *   set and cleared within the claim, which the EVM refunds (EIP-2200/3529): it costs a claim a few
 *   hundred gas, like the transient guard.
 *
 * - The fee recipient has no special power: the pool fee is an ordinary leaf in each tree.
 */
contract VipnodePool is IVipnodePool {
    /// @dev Bounds of {rootDelay} on real chains.
    uint256 public constant MIN_ROOT_DELAY = 1 hours;
    uint256 public constant MAX_ROOT_DELAY = 7 days;

    /// @dev The active root over `(address payee, uint256 cumulative)` leaves (OpenZeppelin
    /// StandardMerkleTree encoding: double-hashed, sorted pairs).
    bytes32 private _root;

    // One slot, the only other one a claim reads: bits 0–127 total received, bits 128–247 total
    // entitled (1.3e36 wei, far above the ETH supply; both checked on write), bit 255 the reentrancy
    // lock. Kept as one word so a claim reads it once and sets and clears the lock in the same slot.
    uint256 private _totals;
    uint256 private constant _RECEIVED_MASK = type(uint128).max;
    uint256 private constant _ENTITLED_SHIFT = 128;
    uint256 private constant _ENTITLED_MASK = uint256(type(uint120).max) << _ENTITLED_SHIFT;
    uint256 private constant _LOCKED = 1 << 255;

    /// @dev The pending root, zero when none.
    bytes32 private _pendingRoot;

    // One slot: what a proposal reads and writes besides the pending root.
    uint64 private _lastEpoch;
    uint40 private _pendingClaimableAt;
    uint120 private _pendingTotal;
    bool private _paused;

    address private _owner;
    address private _pendingOwner;
    address private _proposer;
    address private _guardian;

    mapping(address payee => uint256 cumulative) private _claimed;

    address private immutable _feeRecipient;
    uint256 private immutable _rootDelay;

    modifier onlyOwner() {
        if (msg.sender != _owner) revert VipnodePoolUnauthorizedOwner(msg.sender);
        _;
    }

    modifier whenNotPaused() {
        if (_paused) revert VipnodePoolEnforcedPause();
        _;
    }

    /// @param rootDelay_ Seconds between a proposal and its activation, fixed for life: 1 hour to
    /// 7 days; on the dev chain ids 1337 and 31337 any value up to 7 days (tests, `vipnode devchain`).
    constructor(address owner_, address proposer_, address guardian_, address feeRecipient_, uint256 rootDelay_) {
        if (owner_ == address(0)) revert VipnodePoolInvalidRole(owner_);
        if (proposer_ == address(0)) revert VipnodePoolInvalidRole(proposer_);
        if (guardian_ == address(0)) revert VipnodePoolInvalidRole(guardian_);
        if (feeRecipient_ == address(0)) revert VipnodePoolInvalidFeeRecipient(feeRecipient_);
        uint256 minDelay = block.chainid == 1337 || block.chainid == 31337 ? 0 : MIN_ROOT_DELAY;
        if (rootDelay_ < minDelay || rootDelay_ > MAX_ROOT_DELAY) {
            revert VipnodePoolInvalidRootDelay(rootDelay_, minDelay, MAX_ROOT_DELAY);
        }
        _owner = owner_;
        _proposer = proposer_;
        _guardian = guardian_;
        _feeRecipient = feeRecipient_;
        _rootDelay = rootDelay_;
        emit OwnershipTransferred(address(0), owner_);
        emit ProposerSet(address(0), proposer_);
        emit GuardianSet(address(0), guardian_);
        emit FeeRecipientDeclared(feeRecipient_);
        emit RootDelayDeclared(rootDelay_);
    }

    // ─── Money ─────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IVipnodePool
    function deposit(bytes32 account) external payable whenNotPaused {
        if (msg.value == 0) revert VipnodePoolZeroDeposit(account);
        if (account == bytes32(0)) revert VipnodePoolInvalidAccount(account);
        uint256 totals = _totals;
        if (totals & _LOCKED != 0) revert VipnodePoolReentrantCall();
        uint256 received = SafeCast.toUint128(_receivedOf(totals) + msg.value);
        _totals = (totals & ~_RECEIVED_MASK) | received;
        emit Deposited(account, msg.sender, msg.value);
    }

    /// @inheritdoc IVipnodePool
    function claim(address payee, uint256 cumulative, bytes32[] calldata proof) external {
        bytes32 leaf = _leaf(payee, cumulative);
        bytes32 proven = _processProof(proof, leaf);
        if (proven != _root) {
            // The proof may be for a pending root whose delay has passed: activate it and try again.
            if (!_activateIfDue() || proven != _root) {
                revert VipnodePoolInvalidProof(payee, cumulative);
            }
        }
        uint256 totals = _totals;
        if (totals & _LOCKED != 0) revert VipnodePoolReentrantCall();

        uint256 already = _claimed[payee];
        if (cumulative <= already) revert VipnodePoolNothingToClaim(payee, cumulative, already);
        uint256 amount;
        unchecked {
            // cumulative > already was checked just above.
            amount = cumulative - already;
            // What claims paid so far: every counted wei came in through deposit() and left through
            // a claim. A balance above what was received (forced-in ETH) counts as nothing paid.
            uint256 received = _receivedOf(totals);
            uint256 balance = address(this).balance;
            uint256 paid = received > balance ? received - balance : 0;
            uint256 entitled = _entitledOf(totals);
            uint256 unclaimed = entitled > paid ? entitled - paid : 0;
            if (amount > unclaimed) revert VipnodePoolClaimExceedsEntitled(amount, unclaimed);
        }

        _claimed[payee] = cumulative;
        _totals = totals | _LOCKED;
        emit Claimed(payee, amount, cumulative);

        bool ok;
        assembly ("memory-safe") {
            ok := call(gas(), payee, amount, 0, 0, 0, 0)
        }
        if (!ok) revert VipnodePoolPaymentFailed(payee, amount);
        // Back to the value read above: while the lock was set, nothing else could write this slot
        // (deposit and activation refuse to). The slot ends as it began, so the EVM refunds most of
        // the lock's write (EIP-3529).
        _totals = totals;
    }

    // ─── Roots ─────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IVipnodePool
    function proposeRoot(uint64 epoch, bytes32 newRoot, uint256 newTotalEntitled) external whenNotPaused {
        if (msg.sender != _proposer) revert VipnodePoolUnauthorizedProposer(msg.sender);
        if (_pendingRoot != bytes32(0) && !_activateIfDue()) {
            revert VipnodePoolRootPending(_lastEpoch + 1, _pendingClaimableAt);
        }
        uint64 expected = _lastEpoch + 1;
        if (epoch != expected) revert VipnodePoolInvalidEpoch(epoch, expected);
        if (newRoot == bytes32(0)) revert VipnodePoolEmptyRoot(epoch);
        uint256 totals = _totals;
        uint256 previous = _entitledOf(totals);
        if (newTotalEntitled < previous) revert VipnodePoolEntitlementDecreased(newTotalEntitled, previous);
        uint256 received = _receivedOf(totals);
        if (newTotalEntitled > received) revert VipnodePoolRootExceedsBalance(newTotalEntitled, received);

        uint256 claimableAt = block.timestamp + _rootDelay;
        _pendingRoot = newRoot;
        _pendingTotal = SafeCast.toUint120(newTotalEntitled);
        _pendingClaimableAt = SafeCast.toUint40(claimableAt);
        emit RootProposed(epoch, newRoot, newTotalEntitled, claimableAt);
    }

    /// @inheritdoc IVipnodePool
    function revokeRoot(bytes32 pending) external {
        if (msg.sender != _guardian) revert VipnodePoolUnauthorizedGuardian(msg.sender);
        if (pending == bytes32(0) || _pendingRoot != pending) revert VipnodePoolNoPendingRoot(pending);
        // While paused a root never activates, so the guardian can still revoke one whose delay passed.
        if (!_paused && block.timestamp >= _pendingClaimableAt) {
            revert VipnodePoolRootAlreadyActive(pending, _pendingClaimableAt);
        }
        delete _pendingRoot;
        _pendingTotal = 0;
        _pendingClaimableAt = 0;
        emit RootRevoked(_lastEpoch + 1, pending, msg.sender);
    }

    /// @inheritdoc IVipnodePool
    function activateRoot() external whenNotPaused {
        if (!_activateIfDue()) {
            bytes32 pending = _pendingRoot;
            if (pending == bytes32(0)) revert VipnodePoolNoPendingRoot(pending);
            revert VipnodePoolRootNotYetActive(pending, _pendingClaimableAt);
        }
    }

    /// @dev Moves the pending root in as the active root if its delay has passed and the pool is not
    /// paused; returns whether it did.
    function _activateIfDue() private returns (bool) {
        bytes32 pending = _pendingRoot;
        if (!_isDue(pending)) return false;
        uint64 epoch = _lastEpoch + 1;
        uint120 total = _pendingTotal;
        uint256 totals = _totals;
        if (totals & _LOCKED != 0) revert VipnodePoolReentrantCall();
        _root = pending;
        _totals = (totals & ~_ENTITLED_MASK) | (uint256(total) << _ENTITLED_SHIFT);
        _lastEpoch = epoch;
        delete _pendingRoot;
        _pendingTotal = 0;
        _pendingClaimableAt = 0;
        emit RootActivated(epoch, pending, total);
        return true;
    }

    function _isDue(bytes32 pending) private view returns (bool) {
        return pending != bytes32(0) && !_paused && block.timestamp >= _pendingClaimableAt;
    }

    // ─── Roles ─────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IVipnodePool
    /// @dev Nominating the zero address cancels a pending transfer.
    function transferOwnership(address newOwner) external onlyOwner {
        _pendingOwner = newOwner;
        emit OwnershipTransferStarted(_owner, newOwner);
    }

    /// @inheritdoc IVipnodePool
    function acceptOwnership() external {
        if (msg.sender != _pendingOwner) revert VipnodePoolUnauthorizedPendingOwner(msg.sender);
        address previous = _owner;
        delete _pendingOwner;
        _owner = msg.sender;
        emit OwnershipTransferred(previous, msg.sender);
    }

    /// @inheritdoc IVipnodePool
    function setProposer(address newProposer) external onlyOwner {
        if (newProposer == address(0)) revert VipnodePoolInvalidRole(newProposer);
        address previous = _proposer;
        _proposer = newProposer;
        emit ProposerSet(previous, newProposer);
    }

    /// @inheritdoc IVipnodePool
    function setGuardian(address newGuardian) external onlyOwner {
        if (newGuardian == address(0)) revert VipnodePoolInvalidRole(newGuardian);
        address previous = _guardian;
        _guardian = newGuardian;
        emit GuardianSet(previous, newGuardian);
    }

    /// @inheritdoc IVipnodePool
    function pause() external whenNotPaused {
        if (msg.sender != _owner && msg.sender != _guardian) revert VipnodePoolUnauthorizedPauser(msg.sender);
        // A root whose delay has passed is already active in every view: the pause must not hide it.
        _activateIfDue();
        _paused = true;
        emit Paused(msg.sender);
    }

    /// @inheritdoc IVipnodePool
    function unpause() external onlyOwner {
        if (!_paused) revert VipnodePoolExpectedPause();
        _paused = false;
        emit Unpaused(msg.sender);
    }

    // ─── Views ─────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IVipnodePool
    function root() external view returns (bytes32) {
        bytes32 pending = _pendingRoot;
        return _isDue(pending) ? pending : _root;
    }

    /// @inheritdoc IVipnodePool
    function lastEpoch() external view returns (uint64) {
        return _isDue(_pendingRoot) ? _lastEpoch + 1 : _lastEpoch;
    }

    /// @inheritdoc IVipnodePool
    function pendingRoot() external view returns (uint64 epoch, bytes32 root_, uint256 totalEntitled_, uint256 claimableAt) {
        bytes32 pending = _pendingRoot;
        if (pending == bytes32(0) || _isDue(pending)) return (0, bytes32(0), 0, 0);
        return (_lastEpoch + 1, pending, _pendingTotal, _pendingClaimableAt);
    }

    /// @inheritdoc IVipnodePool
    function rootDelay() external view returns (uint256) {
        return _rootDelay;
    }

    /// @inheritdoc IVipnodePool
    function totalEntitled() external view returns (uint256) {
        return _isDue(_pendingRoot) ? _pendingTotal : _entitledOf(_totals);
    }

    /// @inheritdoc IVipnodePool
    function totalReceived() external view returns (uint256) {
        return _receivedOf(_totals);
    }

    /// @inheritdoc IVipnodePool
    function totalClaimed() external view returns (uint256) {
        uint256 received = _receivedOf(_totals);
        uint256 balance = address(this).balance;
        return received > balance ? received - balance : 0;
    }

    /// @inheritdoc IVipnodePool
    function claimed(address payee) external view returns (uint256) {
        return _claimed[payee];
    }

    /// @inheritdoc IVipnodePool
    function owner() external view returns (address) {
        return _owner;
    }

    /// @inheritdoc IVipnodePool
    function pendingOwner() external view returns (address) {
        return _pendingOwner;
    }

    /// @inheritdoc IVipnodePool
    function proposer() external view returns (address) {
        return _proposer;
    }

    /// @inheritdoc IVipnodePool
    function guardian() external view returns (address) {
        return _guardian;
    }

    /// @inheritdoc IVipnodePool
    function feeRecipient() external view returns (address) {
        return _feeRecipient;
    }

    /// @inheritdoc IVipnodePool
    function paused() external view returns (bool) {
        return _paused;
    }

    function _receivedOf(uint256 totals) private pure returns (uint256) {
        return totals & _RECEIVED_MASK;
    }

    function _entitledOf(uint256 totals) private pure returns (uint256) {
        return (totals & _ENTITLED_MASK) >> _ENTITLED_SHIFT;
    }

    /// @dev The root that `proof` proves `leaf` under, with sorted pairs (what OpenZeppelin's
    /// MerkleProof.processProofCalldata computes; contracts/VipnodePool.test.ts checks them against
    /// each other), in one assembly loop over scratch space: about 60 gas less per proof element.
    function _processProof(bytes32[] calldata proof, bytes32 leaf) private pure returns (bytes32 computed) {
        assembly ("memory-safe") {
            computed := leaf
            // The ABI decoder already checked that proof.length words fit in the calldata.
            for {
                let p := proof.offset
                let end := add(p, shl(5, proof.length))
            } lt(p, end) {
                p := add(p, 0x20)
            } {
                let sibling := calldataload(p)
                // The smaller word first: sibling at 0x00 and computed at 0x20 when sibling < computed.
                let offset := shl(5, lt(sibling, computed))
                mstore(offset, computed)
                mstore(xor(offset, 0x20), sibling)
                computed := keccak256(0x00, 0x40)
            }
        }
    }

    /// @dev The StandardMerkleTree leaf of `(payee, cumulative)`: keccak256(keccak256(abi.encode(...))),
    /// hashed in scratch space instead of allocated memory.
    function _leaf(address payee, uint256 cumulative) private pure returns (bytes32 leaf) {
        assembly ("memory-safe") {
            mstore(0x00, payee)
            mstore(0x20, cumulative)
            mstore(0x00, keccak256(0x00, 0x40))
            leaf := keccak256(0x00, 0x20)
        }
    }
}
